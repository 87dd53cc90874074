/*
 * instance: `ember run JOB --instance ID`, one instance of a job that
 * shares its work with the other instances of the job through a Kafka
 * consumer group (DESIGN.md, "Beyond one machine"; README, "Scale-out").
 *
 *   membership  one consumer joins the group of the job's first kafka
 *               source (its `group=`) subscribed to that source's topic,
 *               with the cooperative-sticky assignor (eager when librdkafka
 *               reports the group's protocol as eager); it never fetches
 *               (its partitions are paused): it only says which tasks are
 *               ours. A task is a partition number: partition N of every
 *               kafka source of the job (co-partitioned inputs);
 *   assign      per new task a thread: the job loaded again with every
 *               kafka source narrowed to partition N (partitions=N, no
 *               group commits of its own), its local state DIR/tasks/N
 *               removed when it is not a batch the task's markers count,
 *               then ember_job_run over DIR/tasks/N with the task hooked
 *               in (task.h: restore from the changelog, claim, and every
 *               batch's commit in one Kafka transaction);
 *   revoke      the task's job is stopped (a running batch finishes and
 *               commits, a waiting one is abandoned and its transaction
 *               aborted) and its thread joined before the partition goes;
 *   fenced      a task whose commit was refused (another owner claimed
 *               it) ends without writing; if the group still gives it to
 *               us a session timeout later (a zombie's membership has
 *               lapsed by then), it restores and claims again;
 *   status      DIR/instance.json, rewritten every second: the tasks, their
 *               phase, restore progress and lag (ember inspect DIR).
 * Threads: the rebalance callback runs on the main thread (in poll), which
 * alone starts and joins task threads; a task thread touches only its own
 * task_rt and job.
 */
#include "checkpoint/commit.h"
#include "core/base/clock.h"
#include "core/base/io.h"
#include "core/base/log.h"
#include "core/engine/repartition.h"
#include "core/engine/task.h"
#include "core/job/job.h"
#include "core/kafka/props.h"
#include "state/layout.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INSTANCE_MAX_TASKS 256
#define INSTANCE_SESSION_MS 6000 /* the group's session timeout */
#define INSTANCE_SESSION_MS_TEXT "6000"

typedef struct instance {
    char id[TASKMARK_OWNER_MAX];
    char dir[4096];
    const char *job_path;
    ember_run_opts opts;
    char name[128], brokers[1024], topic[256], group[256];
    kafka_endpoint ep;
    rd_kafka_t *rk;
    int assigned; /* the group gave us an assignment (an empty one counts) */
    /* Per task, slot 0 runs the job (with repartitioning: its stage 1, the
     * state) over DIR/tasks/N, slot 1 its stage 0 over DIR/tasks/N.0. */
    int stages;
    char paths[2][4200];
    char topics[2][400]; /* what each slot's task reads, for the lag */
    task_rt *tasks[2][INSTANCE_MAX_TASKS];
} instance;

static volatile sig_atomic_t instance_stop;

void ember_instance_stop(void)
{
    instance_stop = 1;
    ember_request_stop();
}

/* ------------------------------------------------------------ a task */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* The local state of the task when it is a batch the markers count: kept;
 * otherwise (a zombie's batch, an aborted attempt's) removed. */
static int judge_local(task_rt *rt, ember_err *err)
{
    char db[4300];
    store *st = NULL;
    commit_record c = {0};
    uint64_t attempt = 0;
    snprintf(db, sizeof db, "%s/db", rt->dir);
    if (access(db, F_OK))
        return 0;
    store_opts so = {.read_only = 1};
    int rc = store_open(db, NULL, 0, &so, &st, err);
    if (!rc && (rc = commit_read(st, &c, err)) == -ENOENT)
        rc = 0, *err = (ember_err){0};
    if (!rc && c.batch && layout_get_u64(st, META_TASK_ATTEMPT, &attempt, err))
        *err = (ember_err){0};
    if (st)
        store_close(st);
    const task_chain *ch = &rt->kt.chain;
    int stale = !rc && c.batch && (c.batch > ch->head || task_chain_attempt(ch, c.batch) != attempt);
    if (stale || rc == -EMBER_ECORRUPT) {
        em_log(EMBER_LOG_WARN, "task %d: local state %s (batch %" PRIu64 ", attempt %016" PRIx64
               ") is not what the task's markers count (batch %" PRIu64 " is attempt %016" PRIx64
               "): removed, the task restores from its changelog", (int)rt->id, rt->dir, c.batch,
               attempt, c.batch, task_chain_attempt(ch, c.batch));
        *err = (ember_err){0};
        rc = nftw(rt->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS)
                 ? ember_err_set(err, -errno, "task %d: cannot remove %s: %s", (int)rt->id,
                                 rt->dir, strerror(errno))
                 : 0;
    }
    commit_free(&c);
    return rc;
}

static void *task_main(void *arg)
{
    task_rt *rt = arg;
    int rc = kafka_task_open(&rt->kt, rt->brokers, rt->job->name, rt->owner, rt->id, rt->group,
                             &rt->job->stop, &rt->err);
    if (!rc)
        rc = kafka_task_fold(&rt->kt, &rt->err);
    if (!rc)
        rc = judge_local(rt, &rt->err);
    if (!rc)
        rc = ember_job_run(rt->job, &rt->opts, &rt->err);
    kafka_task_close(&rt->kt);
    if (rc == -EMBER_EFENCED)
        rt->fenced = 1;
    if (rc)
        em_log(rt->fenced ? EMBER_LOG_WARN : EMBER_LOG_ERROR, "%s%s", rt->err.msg,
               rt->fenced ? " (it claims again after a session timeout if the group still "
                            "gives it to us)"
                          : " (the task starts again in a second)");
    rt->rc = rc;
    rt->phase = TASK_ENDED;
    return NULL;
}

/* Every kafka source of the task's job reads partition N only, and
 * commits no offsets of its own (the task's transaction does). */
static int narrow_job(ember_job *job, int32_t id, ember_err *err)
{
    char p[16];
    snprintf(p, sizeof p, "%d", (int)id);
    for (int i = 0; i < job_node_count(job); i++) {
        ember_job *n = job_node_at(job, i);
        if (!n->source || strcmp(n->source->kind, "kafka"))
            continue;
        if (opts_override(&n->source_opts, "partitions", p) ||
            opts_override(&n->source_opts, "group", ""))
            return ember_err_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

static int slot_start(instance *in, int slot, int32_t id, ember_err *err)
{
    if (in->tasks[slot][id] || instance_stop)
        return 0;
    task_rt *rt = calloc(1, sizeof *rt);
    if (!rt)
        return ember_err_set(err, -ENOMEM, "out of memory");
    rt->id = id;
    snprintf(rt->dir, sizeof rt->dir, "%s/tasks/%d%s", in->dir, (int)id, slot ? ".0" : "");
    snprintf(rt->brokers, sizeof rt->brokers, "%s", in->brokers);
    snprintf(rt->owner, sizeof rt->owner, "%s", in->id);
    rt->group = in->rk;
    rt->opts = in->opts;
    rt->opts.dir = rt->dir;
    rt->offset = -1;
    int rc = ember_job_load_file(in->paths[slot], &rt->job, err);
    if (!rc)
        rc = narrow_job(rt->job, id, err);
    if (!rc) {
        rt->job->task = rt;
        rc = pthread_create(&rt->thread, NULL, task_main, rt) ? -EAGAIN : 0;
        if (rc)
            ember_err_set(err, rc, "task %d: cannot start a thread", (int)id);
    }
    if (rc) {
        ember_job_free(rt->job);
        free(rt);
        return rc;
    }
    rt->started = 1;
    in->tasks[slot][id] = rt;
    return 0;
}

static int task_start(instance *in, int32_t id, ember_err *err)
{
    if (id < 0 || id >= INSTANCE_MAX_TASKS)
        return ember_err_set(err, -ERANGE, "instance %s: partition %d: at most %d tasks", in->id,
                             (int)id, INSTANCE_MAX_TASKS);
    int rc = 0;
    for (int slot = 0; !rc && slot < (in->stages ? 2 : 1); slot++)
        rc = slot_start(in, slot, id, err);
    if (!rc)
        em_log(EMBER_LOG_INFO, "instance %s: task %d assigned", in->id, (int)id);
    return rc;
}

/* Stops the task's jobs (a running batch finishes and commits) and waits. */
static void task_stop(instance *in, int32_t id, const char *why)
{
    if (id < 0 || id >= INSTANCE_MAX_TASKS || !in->tasks[0][id])
        return;
    for (int slot = 0; slot < 2; slot++)
        if (in->tasks[slot][id])
            ember_job_stop(in->tasks[slot][id]->job);
    uint64_t batch = in->tasks[0][id]->committed;
    for (int slot = 0; slot < 2; slot++) {
        task_rt *rt = in->tasks[slot][id];
        if (!rt)
            continue;
        pthread_join(rt->thread, NULL);
        ember_job_free(rt->job);
        free(rt);
        in->tasks[slot][id] = NULL;
    }
    em_log(EMBER_LOG_INFO, "instance %s: task %d %s at batch %" PRIu64, in->id, (int)id, why,
           batch);
}

/* ------------------------------------------------------------ the group */

static instance *instance_of(void *opaque)
{
    return (instance *)((char *)opaque - offsetof(instance, ep));
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    instance *in = instance_of(opaque);
    int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        in->assigned = 1;
        rd_kafka_error_t *ie = coop ? rd_kafka_incremental_assign(rk, parts) : NULL;
        if (!coop)
            rd_kafka_assign(rk, parts);
        if (ie)
            rd_kafka_error_destroy(ie);
        rd_kafka_pause_partitions(rk, parts); /* it never fetches: the tasks read */
        for (int i = 0; i < parts->cnt; i++) {
            ember_err err = {0};
            if (task_start(in, parts->elems[i].partition, &err))
                em_log(EMBER_LOG_ERROR, "instance %s: %s", in->id, err.msg);
        }
        return;
    }
    int lost = rd_kafka_assignment_lost(rk);
    for (int i = 0; i < parts->cnt; i++)
        task_stop(in, parts->elems[i].partition, lost ? "lost" : "revoked");
    if (coop) {
        rd_kafka_error_t *ue = rd_kafka_incremental_unassign(rk, parts);
        if (ue)
            rd_kafka_error_destroy(ue);
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

static int join_group(instance *in, ember_err *err)
{
    char errstr[512];
    const char *settings[] = {
        "group.id", in->group,
        "enable.auto.commit", "false",
        "partition.assignment.strategy", "cooperative-sticky",
        "session.timeout.ms", INSTANCE_SESSION_MS_TEXT,
        "heartbeat.interval.ms", "1000",
        NULL,
    };
    rd_kafka_conf_t *conf = kafka_conf_new(&in->ep, settings, NULL, KAFKA_ROLE_CONSUMER, err);
    if (!conf)
        return err->code;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    if (!(in->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(conf);
        return ember_err_set(err, -EINVAL, "instance %s: %s", in->id, errstr);
    }
    rd_kafka_poll_set_consumer(in->rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, in->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(in->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return e ? ember_err_set(err, -EIO, "instance %s: subscribe to %s: %s", in->id, in->topic,
                             rd_kafka_err2str(e))
             : 0;
}

/* ------------------------------------------------------------ status */

static const char *phase_name(int p)
{
    return p == TASK_RESTORING ? "restoring" : p == TASK_RUNNING ? "running"
           : p == TASK_ENDED   ? "ended"
                               : "starting";
}

static void task_status(instance *in, int slot, const task_rt *rt, FILE *f, int first)
{
    int64_t lo = -1, hi = -1;
    const char *topic = in->topics[slot];
    /* The member is paused (its cached watermarks go stale): ask, briefly,
     * and not once the instance is stopping (a broker that is gone). */
    if (!instance_stop)
        rd_kafka_query_watermark_offsets(in->rk, topic, rt->id, &lo, &hi, 200);
    int64_t at = rt->offset >= 0 ? rt->offset : 0;
    fprintf(f, "%s\n  {\"task\": %d, \"stage\": %d, \"topic\": \"%s\", \"phase\": \"%s\", \"fenced\": %d, \"committed_batch\": %"
            PRIu64 ", \"offset\": %" PRId64 ", \"lag\": %" PRId64 ", \"restore\": {\"from_offset\": %"
            PRIu64 ", \"batches\": %" PRIu64 ", \"restored\": %" PRIu64 ", \"bytes\": %" PRIu64
            ", \"ms\": %.0f}}", first ? "" : ",", (int)rt->id, in->stages && !slot, topic,
            phase_name(rt->phase), rt->fenced,
            rt->committed, rt->offset, hi >= 0 && hi > at ? hi - at : 0, rt->restore_from,
            rt->restore_batches, rt->restored_batches, rt->restored_bytes, rt->restore_ms);
}

/* DIR/instance.json: written to a temp name and renamed (readers see a
 * whole file). Not a durable record: nothing reads it back. */
static void write_status(instance *in)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/instance.json", in->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "{\"instance\": \"%s\", \"job\": \"%s\", \"group\": \"%s\", \"topic\": \"%s\", "
            "\"pid\": %d, \"time_ms\": %.0f, \"tasks\": [", in->id, in->name, in->group,
            in->topic, (int)getpid(), em_wall_ms() * 1.0);
    int first = 1;
    for (int i = 0; i < INSTANCE_MAX_TASKS; i++)
        for (int slot = 1; slot >= 0; slot--)
            if (in->tasks[slot][i]) {
                task_status(in, slot, in->tasks[slot][i], f, first);
                first = 0;
            }
    fprintf(f, "\n]}\n");
    if (fclose(f) == 0)
        rename(tmp, path);
}

/* ------------------------------------------------------------ run */

/* Whether the group still gives us partition id (a task is started again
 * only then: a paused instance's tasks may have moved). */
static int still_ours(instance *in, int32_t id)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    int ours = 0;
    if (rd_kafka_assignment(in->rk, &l) == RD_KAFKA_RESP_ERR_NO_ERROR && l)
        ours = rd_kafka_topic_partition_list_find(l, in->topic, id) != NULL;
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    return ours;
}

/* A task that ended by itself is started again (its state restores) if
 * the group still gives it to us: after a second, or when it was fenced
 * after a session timeout. A zombie's group membership has lapsed by then
 * (the revoke stops the task for good); a task the group does give us was
 * fenced by a claim racing ours (two owners in quick succession) and
 * claims again at a newer epoch, as a Kafka Streams thread rejoins after a
 * TaskMigratedException. */
static void reap(instance *in, double *restart_at)
{
    for (int i = 0; i < INSTANCE_MAX_TASKS; i++) {
        task_rt *rt = in->tasks[0][i], *feed = in->tasks[1][i];
        if (feed && feed->phase == TASK_ENDED && (!rt || rt->phase != TASK_ENDED))
            rt = feed;
        if (!rt || rt->phase != TASK_ENDED || instance_stop)
            continue;
        if (restart_at[i] == 0) {
            restart_at[i] = em_mono_ms() + (rt->fenced ? INSTANCE_SESSION_MS + 1000 : 1000);
            continue;
        }
        if (em_mono_ms() < restart_at[i])
            continue;
        restart_at[i] = 0;
        task_stop(in, i, "ended, starting again");
        ember_err err = {0};
        if (still_ours(in, i) && task_start(in, i, &err))
            em_log(EMBER_LOG_ERROR, "instance %s: %s", in->id, err.msg);
    }
}

static int find_group_source(instance *in, ember_job *job, ember_err *err)
{
    snprintf(in->name, sizeof in->name, "%s", job->name);
    for (int i = 0; i < job_node_count(job); i++) {
        ember_job *n = job_node_at(job, i);
        if (!n->source || strcmp(n->source->kind, "kafka") || !*opts_str(&n->source_opts, "group"))
            continue;
        snprintf(in->brokers, sizeof in->brokers, "%s", opts_str(&n->source_opts, "brokers"));
        snprintf(in->topic, sizeof in->topic, "%s", opts_str(&n->source_opts, "topic"));
        snprintf(in->group, sizeof in->group, "%s", opts_str(&n->source_opts, "group"));
        return 0;
    }
    return ember_err_set(err, -EMBER_EUSAGE, "%s: --instance needs a `source kafka ... group=G` "
                         "(the instances of a job share its partitions through group G)",
                         in->job_path);
}

/* The task topics must be there with a partition per task: brokers that
 * create topics on first use would make them with their default count. */
static int check_topics(instance *in, ember_err *err)
{
    const char *suffix[] = {"-tasks", "-state-changelog", ".0-tasks", ".0-state-changelog",
                            "-repartition-0"};
    int32_t *ids = NULL;
    size_t n_in = 0, n = 0;
    int rc = kafka_partitions(in->rk, &in->ep, in->topic, 10000, &ids, &n_in, err);
    free(ids);
    for (int i = 0; !rc && i < (in->stages ? 5 : 2); i++) {
        char t[400];
        snprintf(t, sizeof t, "%s%s", in->name, suffix[i]);
        ids = NULL;
        rc = kafka_partitions(in->rk, &in->ep, t, 10000, &ids, &n, err);
        free(ids);
        if (rc == -ENOENT || (!rc && n < n_in))
            rc = ember_err_set(err, -EMBER_EUSAGE, "instance %s: topic %s %s; the instances "
                               "need it with a partition per task (%zu, as topic %s), e.g. "
                               "`ember broker --topic %s:%zu`", in->id, t,
                               rc ? "does not exist" : "has too few partitions", n_in,
                               in->topic, t, n_in);
    }
    return rc;
}

static int instance_open(instance *in, ember_err *err)
{
    ember_job *job = NULL;
    char tasks[4200];
    int rc = ember_job_load_file(in->job_path, &job, err);
    if (rc)
        return rc;
    rc = find_group_source(in, job, err);
    if (!rc && !in->dir[0])
        snprintf(in->dir, sizeof in->dir, "%s", job->ckpt_dir ? job->ckpt_dir : "");
    ember_job_free(job);
    snprintf(tasks, sizeof tasks, "%s/tasks", in->dir);
    if (!rc)
        rc = io_mkdir_p(in->dir, err);
    if (!rc)
        rc = repartition_split(in->job_path, in->dir, &in->stages, err);
    snprintf(in->paths[0], sizeof in->paths[0], "%s", in->job_path);
    snprintf(in->topics[0], sizeof in->topics[0], "%s", in->topic);
    if (in->stages) {
        repartition_stage_path(in->dir, 1, in->paths[0], sizeof in->paths[0]);
        repartition_stage_path(in->dir, 0, in->paths[1], sizeof in->paths[1]);
        snprintf(in->topics[0], sizeof in->topics[0], "%s-repartition-0", in->name);
        snprintf(in->topics[1], sizeof in->topics[1], "%s", in->topic);
    }
    if (!rc && !strcmp(in->brokers, "embedded"))
        rc = ember_err_set(err, -EMBER_EUSAGE, "--instance needs a broker the instances share "
                           "(brokers=HOST:PORT, e.g. `ember broker`), not brokers=embedded");
    if (!rc)
        rc = io_mkdir_p(tasks, err);
    if (!rc)
        rc = kafka_endpoint_open(&in->ep, in->brokers, in->id, &instance_stop, err);
    if (!rc)
        rc = join_group(in, err);
    return rc ? rc : check_topics(in, err);
}

/* Stops every task and leaves the group: the tasks move at once.
 * librdkafka before 2.3 aborts in rd_kafka_destroy when a cooperative-sticky
 * member is destroyed after joining but before its first assignment
 * (librdkafka issue 4312, Debian 12 has 2.0.2): such a member waits for the
 * assignment, briefly, and when none comes is left to the process's exit
 * (it holds no task). */
static void leave_group(instance *in)
{
    if (!in->rk)
        return;
    for (double give_up = em_mono_ms() + 8000; !in->assigned && em_mono_ms() < give_up;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(in->rk, 100);
        if (m)
            rd_kafka_message_destroy(m);
    }
    for (int i = 0; i < INSTANCE_MAX_TASKS; i++)
        task_stop(in, i, "stopped");
    if (!in->assigned) {
        em_log(EMBER_LOG_WARN, "instance %s: no assignment from group %s yet; leaving it to the "
               "session timeout", in->id, in->group);
        return;
    }
    rd_kafka_consumer_close(in->rk);
    rd_kafka_destroy(in->rk);
    in->rk = NULL;
}

int ember_instance_run(const char *job_path, const char *id, const ember_run_opts *opts,
                       ember_err *err)
{
    static instance in; /* one per process; large (the task table) */
    static double restart_at[INSTANCE_MAX_TASKS];
    double status_at = 0;
    memset(&in, 0, sizeof in);
    in.job_path = job_path;
    in.opts = *opts;
    snprintf(in.id, sizeof in.id, "%s", id);
    snprintf(in.dir, sizeof in.dir, "%s", opts->dir ? opts->dir : "");
    int rc = instance_open(&in, err);
    if (!rc)
        em_log(EMBER_LOG_INFO, "instance %s of job %s: joining group %s (topic %s), state in "
               "%s/tasks", in.id, in.name, in.group, in.topic, in.dir);
    while (!rc && !instance_stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(in.rk, 100);
        if (m)
            rd_kafka_message_destroy(m);
        reap(&in, restart_at);
        if (em_mono_ms() >= status_at) {
            write_status(&in);
            status_at = em_mono_ms() + 1000;
        }
    }
    leave_group(&in); /* stops every task first */
    kafka_endpoint_close(&in.ep);
    return rc;
}
