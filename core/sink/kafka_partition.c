/*
 * kafka_partition: `sink kafka ... partition-by=F1,F2`: the record key is
 * made of these fields (in format=) instead of the row's key fields, so
 * the partition (murmur2 of the key, Kafka's default) follows them. It is
 * how scale-out's repartition topic puts every record of a state key in
 * the partition its owning task reads (README, "Scale-out"). And the
 * rows of a scale-out task, which go into the task's transaction.
 */
#include "core/sink/kafka_sink.h"

int ks_partition_by(kafka_sink *s, const char *spec, const schema *rows, ember_err *err)
{
    s->n_pby = 0;
    for (const char *p = spec; *p;) {
        size_t len = strcspn(p, ",");
        int i = schema_find(rows, p, len);
        if (i < 0 || s->n_pby >= SCHEMA_MAX_FIELDS)
            return ember_err_set(err, -EMBER_EUSAGE, "%s: partition-by: no field '%.*s' in "
                                 "the rows", s->what, (int)len, p);
        s->pby_schema.f[s->n_pby] = rows->f[i];
        s->pby[s->n_pby++] = i;
        p += len + (p[len] == ',');
    }
    s->pby_schema.n = s->n_pby;
    return 0;
}

int ks_append_key(kafka_sink *s, const ember_record *row)
{
    ember_value v[SCHEMA_MAX_FIELDS];
    for (int k = 0; k < s->n_pby; k++)
        v[k] = (uint32_t)s->pby[k] < row->n ? row->values[s->pby[k]]
                                            : (ember_value){.type = EMBER_NULL};
    ember_record key = {(uint32_t)s->n_pby, v};
    return rowfmt_append_fields(&s->buf, s->format, &s->pby_schema, &key, key.n);
}

/* Scale-out: the rows go into the task's transaction; the engine's commit
 * step adds the state delta and the marker and commits it. */
int ks_task_rows(kafka_sink *s, uint64_t batch, ember_err *err)
{
    for (size_t i = 0; i < s->n_rows; i++) {
        const out_row *r = &s->rows[i];
        int rc = kafka_task_produce(s->task, s->topic, r->partition,
                                    r->key_len ? s->buf.data + r->key_off : NULL, r->key_len,
                                    s->buf.data + r->val_off, r->val_len, batch, err);
        if (rc)
            return rc;
    }
    return 0;
}

