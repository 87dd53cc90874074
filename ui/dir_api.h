/*
 * dir_api: the read-only JSON API over a checkpoint directory, what the
 * status page (`ember ui DIR`, `ember run --ui`) asks for under
 * /api/v1/dir/<route>?<query>. Routes:
 *   history?n=N                      the last N progress.jsonl objects (1..10000, 100)
 *   status                           job, spec hash, commit, offsets, keys, drained, WAL
 *   state/operators?snapshot=B       column families with key counts and bytes
 *   state/get?key=K&op=NAME&snapshot=B          the decoded rows of one key
 *   state/scan?prefix=P&op=NAME&limit=N&snapshot=B   decoded rows (1..10000, 100)
 *   snapshots                        batch, time, bytes, offsets, verify ok/damaged
 *   wal?from=B&limit=N               records with their decoded plans (1..10000, 100)
 *   diff?a=ID&b=ID&op=NAME&limit=N   changes between two snapshots or `live`
 * Nothing here writes into the directory or takes its lock: RocksDB is
 * opened read-only (works while the job runs). Thread-safe: each call opens
 * and closes what it reads.
 */
#ifndef EMBER_UI_DIR_API_H
#define EMBER_UI_DIR_API_H

#include "core/ops/text.h"

/* Answers GET /api/v1/dir/<route>?<query> over the checkpoint directory
 * dir: appends a JSON body to out and returns the HTTP status: 200; 400 for
 * a bad, missing or unknown parameter; 404 for an unknown route or a key or
 * snapshot that is not there; 500 for a damaged checkpoint. Every status
 * but 200 comes with {"error": "..."} naming the parameter or the file.
 * query is `a=b&c=d` (%-escapes and '+' decoded), may be NULL or "". */
int ui_dir_api(const char *dir, const char *route, const char *query, text_buf *out);

#endif
