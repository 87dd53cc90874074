/*
 * dir_fixture: what the checkpoint API's Check suites (test_dir_api.c,
 * test_dir_state.c) share: running a job file to its end in a child process
 * (RocksDB's thread pools must not exist in the process that forks the test
 * cases), calling the API and parsing its body.
 */
#ifndef EMBER_TEST_DIR_FIXTURE_H
#define EMBER_TEST_DIR_FIXTURE_H

#include "ui/dir_api.h"

#include <check.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void quiet(ember_log_level level, const char *line, void *user) {}

/* 0 when the job ran to its end (the input read, idle). */
static int run_job(const char *dir)
{
    char path[PATH_MAX + 32];
    ember_job *job = NULL;
    ember_err err = {0};
    snprintf(path, sizeof path, "%s/j.job", dir);
    ember_run_opts o = {.until_idle = 1};
    int rc = ember_job_load_file(path, &job, &err) || ember_job_run(job, &o, &err);
    if (rc)
        fprintf(stderr, "test_dir_api: %s\n", err.msg);
    ember_job_free(job);
    return rc;
}

/* run_job in a child of its own: RocksDB's thread pools must not exist in
 * the process that forks the test cases. */
static int run_in_child(const char *dir)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ember_set_log(quiet, NULL);
        _exit(run_job(dir) ? 1 : 0);
    }
    int st = 0;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -1;
}

/* Calls the API; returns the parsed body (caller decrefs) and the status. */
static json_t *api_in(const char *dir, const char *route, const char *query, int *status)
{
    text_buf out = {0};
    *status = ui_dir_api(dir, route, query, &out);
    json_error_t e;
    json_t *j = json_loadb(out.data ? out.data : "", out.len, 0, &e);
    ck_assert_msg(j != NULL, "%s?%s: not JSON (%s): %.*s", route, query ? query : "", e.text,
                  (int)out.len, out.data ? out.data : "");
    text_free(&out);
    return j;
}

static long jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
    return (long)json_integer_value(v);
}

#endif
