/*
 * kafka_mock: librdkafka's mock cluster behind a small interface (see
 * kafka_mock.h), plus a TCP forwarder for a fixed bootstrap port and the
 * process-wide embedded cluster that `brokers=embedded` uses.
 *
 * The mock cluster runs on its own thread inside librdkafka; it needs an
 * rd_kafka_t for bookkeeping only, so a producer handle that never produces
 * owns it. The forwarder is one thread polling the listening socket and
 * every client/broker socket pair; it only ever carries bootstrap traffic
 * (metadata), since clients then connect to the brokers' advertised ports.
 */
#include "core/base/log.h"
#include "core/kafka/mock.h"
#include "core/base/log.h"
#include "core/kafka/client.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FWD_MAX_PAIRS 64

typedef struct fwd_pair {
    int client, broker;
} fwd_pair;

typedef struct forwarder {
    int listen_fd;
    int wake[2];
    struct sockaddr_in target;
    fwd_pair pairs[FWD_MAX_PAIRS];
    int n_pairs;
    pthread_t thread;
    int running;
} forwarder;

struct kafka_mock {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    int brokers;
    forwarder fwd;
};

int kafka_mock_start(int brokers, kafka_mock **out, ember_err *err)
{
    char errstr[512];
    if (brokers < 1 || brokers > 16)
        return ember_err_set(err, -EMBER_EUSAGE, "a mock cluster has 1 to 16 brokers, not %d",
                             brokers);
    kafka_mock *m = calloc(1, sizeof *m);
    if (!m)
        return ember_err_set(err, -ENOMEM, "out of memory");
    m->fwd.listen_fd = -1;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, kafka_log_line);
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!m->rk) {
        rd_kafka_conf_destroy(conf);
        free(m);
        return ember_err_set(err, -EIO, "mock cluster: %s", errstr);
    }
    m->mc = rd_kafka_mock_cluster_new(m->rk, brokers);
    if (!m->mc) {
        rd_kafka_destroy(m->rk);
        free(m);
        return ember_err_set(err, -EIO, "mock cluster: cannot start %d brokers on 127.0.0.1",
                             brokers);
    }
    m->brokers = brokers;
    *out = m;
    return 0;
}

const char *kafka_mock_bootstraps(const kafka_mock *m)
{
    return rd_kafka_mock_cluster_bootstraps(m->mc);
}

int kafka_mock_create_topic(kafka_mock *m, const char *name, int partitions, ember_err *err)
{
    int replicas = m->brokers < 3 ? m->brokers : 3;
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(m->mc, name, partitions, replicas);
    if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        return ember_err_set(err, -EEXIST, "topic %s exists already", name);
    if (e)
        return ember_err_set(err, -EINVAL, "topic %s: %s", name, rd_kafka_err2str(e));
    return 0;
}

void kafka_mock_set_up(kafka_mock *m, int up)
{
    /* Broker ids are 1..brokers; this version has no "all brokers" id. */
    for (int id = 1; id <= m->brokers; id++) {
        if (up)
            rd_kafka_mock_broker_set_up(m->mc, id);
        else
            rd_kafka_mock_broker_set_down(m->mc, id);
    }
}

const char *kafka_mock_version(void) { return rd_kafka_version_str(); }

/* ------------------------------------------------------------ forwarder */

static void fwd_drop(forwarder *f, int i)
{
    close(f->pairs[i].client);
    close(f->pairs[i].broker);
    f->pairs[i] = f->pairs[--f->n_pairs];
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Copies what is readable on `from` to `to`; -1 when either side closed. */
static int fwd_copy(int from, int to)
{
    char buf[65536];
    ssize_t r = recv(from, buf, sizeof buf, 0);
    if (r < 0 && errno == EINTR)
        return 0;
    if (r <= 0)
        return -1;
    return write_all(to, buf, (size_t)r);
}

static void fwd_accept(forwarder *f)
{
    int c = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return;
    int b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->n_pairs == FWD_MAX_PAIRS || b < 0 ||
        connect(b, (struct sockaddr *)&f->target, sizeof f->target) != 0) {
        close(c); /* the broker is down (or too many clients): the client retries */
        if (b >= 0)
            close(b);
        return;
    }
    f->pairs[f->n_pairs++] = (fwd_pair){c, b};
}

static void *fwd_main(void *arg)
{
    forwarder *f = arg;
    struct pollfd pfd[2 + 2 * FWD_MAX_PAIRS];
    for (;;) {
        int n = 0;
        pfd[n++] = (struct pollfd){.fd = f->wake[0], .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = f->listen_fd, .events = POLLIN};
        for (int i = 0; i < f->n_pairs; i++) {
            pfd[n++] = (struct pollfd){.fd = f->pairs[i].client, .events = POLLIN};
            pfd[n++] = (struct pollfd){.fd = f->pairs[i].broker, .events = POLLIN};
        }
        if (poll(pfd, (nfds_t)n, -1) < 0 && errno != EINTR)
            break;
        if (pfd[0].revents)
            break;
        /* Pairs first (their indexes match pfd), then new clients. */
        for (int i = f->n_pairs - 1; i >= 0; i--) {
            short rc = pfd[2 + 2 * i].revents, rb = pfd[3 + 2 * i].revents;
            if ((rc && fwd_copy(f->pairs[i].client, f->pairs[i].broker)) ||
                (rb && fwd_copy(f->pairs[i].broker, f->pairs[i].client)))
                fwd_drop(f, i);
        }
        if (pfd[1].revents & POLLIN)
            fwd_accept(f);
    }
    while (f->n_pairs)
        fwd_drop(f, 0);
    return NULL;
}

/* The first broker's address, from the bootstrap list "127.0.0.1:P,...". */
static int first_broker(const kafka_mock *m, struct sockaddr_in *sin)
{
    const char *b = kafka_mock_bootstraps(m), *colon = strchr(b, ':');
    if (!colon)
        return -1;
    *sin = (struct sockaddr_in){.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)atoi(colon + 1)),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return 0;
}

static int fwd_socket(int port, ember_err *err)
{
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0)
        return ember_err_set(err, -errno, "socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(fd, 16) != 0) {
        int e = errno;
        close(fd);
        return ember_err_set(err, -EMBER_EUSAGE, "127.0.0.1:%d: %s", port, strerror(e));
    }
    return fd;
}

int kafka_mock_listen(kafka_mock *m, int port, ember_err *err)
{
    forwarder *f = &m->fwd;
    if (port < 1 || port > 65535)
        return ember_err_set(err, -EMBER_EUSAGE, "port %d is not in 1..65535", port);
    if (f->running || first_broker(m, &f->target))
        return ember_err_set(err, -EINVAL, "mock cluster: cannot forward a second port");
    int fd = fwd_socket(port, err);
    if (fd < 0)
        return fd;
    if (pipe2(f->wake, O_CLOEXEC) != 0) {
        close(fd);
        return ember_err_set(err, -errno, "pipe: %s", strerror(errno));
    }
    f->listen_fd = fd;
    if (pthread_create(&f->thread, NULL, fwd_main, f) != 0) {
        close(fd);
        close(f->wake[0]);
        close(f->wake[1]);
        f->listen_fd = -1;
        return ember_err_set(err, -EAGAIN, "cannot start the forwarder thread");
    }
    f->running = 1;
    return 0;
}

void kafka_mock_stop(kafka_mock *m)
{
    if (!m)
        return;
    if (m->fwd.running) {
        if (write(m->fwd.wake[1], "x", 1) != 1)
            em_log(EMBER_LOG_ERROR, "kafka_mock: wake the forwarder: %s", strerror(errno));
        pthread_join(m->fwd.thread, NULL);
        close(m->fwd.wake[0]);
        close(m->fwd.wake[1]);
        close(m->fwd.listen_fd);
    }
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->rk);
    free(m);
}

/* ------------------------------------------------------------ embedded */

/* The one piece of shared mutable state here: the source and the sink of a
 * job open independently but must see the same in-process cluster. */
static pthread_mutex_t embedded_lock = PTHREAD_MUTEX_INITIALIZER;
static kafka_mock *embedded;
static int embedded_users;

int kafka_mock_embedded_acquire(const char **bootstraps, ember_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&embedded_lock);
    if (!embedded && !(rc = kafka_mock_start(1, &embedded, err)))
        em_log(EMBER_LOG_INFO,
               "kafka: embedded broker at %s (in memory, gone when the job exits; produce "
               "with: ember gen sensors --to kafka://%s/TOPIC)",
               kafka_mock_bootstraps(embedded), kafka_mock_bootstraps(embedded));
    if (!rc) {
        embedded_users++;
        *bootstraps = kafka_mock_bootstraps(embedded);
    }
    pthread_mutex_unlock(&embedded_lock);
    return rc;
}

int kafka_mock_embedded_topic(const char *name, int partitions, ember_err *err)
{
    pthread_mutex_lock(&embedded_lock);
    int rc = embedded ? kafka_mock_create_topic(embedded, name, partitions, err)
                      : ember_err_set(err, -EINVAL, "no embedded broker");
    pthread_mutex_unlock(&embedded_lock);
    return rc == -EEXIST ? 0 : rc;
}

void kafka_mock_embedded_release(void)
{
    pthread_mutex_lock(&embedded_lock);
    if (embedded_users > 0 && --embedded_users == 0) {
        kafka_mock_stop(embedded);
        embedded = NULL;
    }
    pthread_mutex_unlock(&embedded_lock);
}
