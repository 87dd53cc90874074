/*
 * gen_nexmark: the events of the Nexmark benchmark, drawn the way the
 * generator of the nexmark/nexmark project (nexmark-flink: GeneratorConfig,
 * NexmarkGenerator, PersonGenerator, AuctionGenerator, BidGenerator,
 * PriceGenerator, StringsGenerator) draws them with its default
 * configuration, as one wide CSV line per event (columns in gen_nexmark.h).
 *
 * Event numbers and ids. Event seq (0, 1, ...) has event number n = seq + 1
 * and event id e = n + 1 (the project's Flink source starts with
 * firstEventNumber = 1 and firstEventId = 1). e mod 50 decides the kind, by
 * the proportions person 1 : auction 3 : bid 46: 0 a person, 1..3 an
 * auction, 4..49 a bid. So ids follow from e alone: the last person id
 * (base 0) is e / 50, the last auction id is 3 * (e / 50) + (e mod 50) - 1
 * for an auction and the epoch's last auction (3 * (e / 50) + 2, or the
 * previous epoch's at a person) otherwise; persons count from 1000,
 * auctions from 1000, categories from 10.
 *
 * Fields (P: person, A: auction, B: bid; "hot" as in the project):
 *   date_time   GEN_EPOCH_MS + n * 1000 / events_per_s ms (the project's
 *               base time + n * inter-event delay; monotone)
 *   P id        the last person id + 1000; name "First Last" of 11 first
 *               and 9 last names; email "s7@s5.com" (random strings); credit
 *               card four 4-digit groups; city of 10, state of 6 (US).
 *   A id        the last auction id + 1000. seller: 3 in 4 a hot seller
 *               (the last person id rounded down to a multiple of 100),
 *               else one of the 1000 newest persons or up to 10 not yet
 *               created; category 10..14; initial_bid a price; reserve
 *               initial_bid + a price; expires date_time + 1 + U[0, 2H)
 *               where H is the event time 1666 events (100 auctions) ahead.
 *               item_name up to 19, description up to 99 random characters.
 *   B auction   1 in 2 a hot auction (the last auction id rounded down to a
 *               multiple of 100), else one of the 100 newest auctions or up
 *               to 10 ahead; + 1000. bidder: 3 in 4 a hot bidder (hot
 *               seller + 1), else as a random seller; + 1000. price; channel
 *               1 in 2 one of Google, Facebook, Baidu, Apple (each with its
 *               own URL), else channel-N, N < 10000, whose URL ends with
 *               "&channel_id=" abs(bit-reversed N as int32) 9 times in 10.
 *   price       round(10^(6u) * 100), u uniform in [0, 1): 100 .. 10^8.
 *   extra       letters making the event's size average 200 (person), 500
 *               (auction) or 100 (bid) bytes, +-20%, as nextExtra does.
 * Random strings: 3..max-1 characters, each a letter or (1 in 13) a blank,
 * trimmed; URL parts use '_' instead of blanks and are not trimmed.
 *
 * Deliberate differences from nexmark-flink: its random numbers come from an
 * unseeded SplittableRandom, so its events differ on every run; here every
 * event draws from a splitmix64 sequence keyed by (seed, e), so event seq
 * depends only on (seed, seq) and any range regenerates alone (the source is
 * replayable). Its BidGenerator adds FIRST_PERSON_ID to the bidder twice,
 * which puts every bidder 1000 above the persons it was drawn from; here it
 * is added once, as in Beam's original generator, so bidders are persons.
 * Channel URLs are a function of the channel alone (the project draws them
 * once per JVM). The extra text is drawn letter by letter instead of being
 * cut from one 1 MB random string.
 */
#include "core/ops/gen_nexmark.h"
#include "core/ops/gen_put.h"

#include <math.h>

#define NX_SALT     0x4e584d4b4e584d4bull /* the events' key */
#define NX_URL_SALT 0x75726c5f75726c5full /* channel URLs */

#define P_PROP     1u
#define A_PROP     3u
#define B_PROP     46u
#define TOTAL_PROP (P_PROP + A_PROP + B_PROP)

#define FIRST_PERSON_ID        1000u
#define FIRST_AUCTION_ID       1000u
#define FIRST_CATEGORY_ID      10u
#define NUM_CATEGORIES         5u
#define PERSON_ID_LEAD         10u
#define AUCTION_ID_LEAD        10u
#define HOT_RATIO              100u /* hot sellers, auctions, bidders: the first of 100 */
#define HOT_SELLERS_RATIO      4u
#define HOT_AUCTIONS_RATIO     2u
#define HOT_BIDDERS_RATIO      4u
#define NUM_ACTIVE_PEOPLE      1000u
#define NUM_IN_FLIGHT_AUCTIONS 100u
#define CHANNELS               10000u
#define AVG_PERSON_BYTES       200
#define AVG_AUCTION_BYTES      500
#define AVG_BID_BYTES          100

/*
 * Bound of a line (NEXMARK_LINE_MAX): the auction is the longest. Fixed
 * part "1," + 20-digit date_time + 22 commas; id, expires and seller up to
 * 20 digits each, initial_bid 9, reserve 10, category 2; item_name 19,
 * description 99; extra at most 1.2 * (500 - 48) = 542 (its size is
 * smallest, 48, with both strings empty). 2 + 20 + 22 + 60 + 21 + 118 + 542
 * = 785. A person is at most 2 + 20 + 22 + 20 + 16 + 16 + 19 + 13 + 2 + 182
 * = 312, a bid 2 + 20 + 22 + 40 + 9 + 12 + 93 + 82 = 280.
 */

typedef struct nx_rng {
    uint64_t s;
} nx_rng;

static inline uint64_t nx_next(nx_rng *r)
{
    r->s += GOLDEN;
    return mix64(r->s);
}

static inline uint32_t nx_int(nx_rng *r, uint32_t n)
{
    return below(nx_next(r), n);
}

static inline double nx_unit(nx_rng *r)
{
    return (double)(nx_next(r) >> 11) * 0x1.0p-53;
}

/* ------------------------------------------------------------------ ids */

static inline uint64_t last_person(uint64_t e)
{
    uint64_t epoch = e / TOTAL_PROP, off = e % TOTAL_PROP;
    return epoch * P_PROP + (off >= P_PROP ? P_PROP - 1 : off);
}

/* e >= 2 (the first event id), so a person's epoch is at least 1. */
static inline uint64_t last_auction(uint64_t e)
{
    uint64_t epoch = e / TOTAL_PROP, off = e % TOTAL_PROP;
    if (off < P_PROP)
        return (epoch - 1) * A_PROP + A_PROP - 1;
    if (off >= P_PROP + A_PROP)
        return epoch * A_PROP + A_PROP - 1;
    return epoch * A_PROP + off - P_PROP;
}

/* One of the newest NUM_ACTIVE_PEOPLE persons or up to PERSON_ID_LEAD ahead. */
static uint64_t random_person(uint64_t e, nx_rng *r)
{
    uint64_t people = last_person(e) + 1;
    uint64_t active = people < NUM_ACTIVE_PEOPLE ? people : NUM_ACTIVE_PEOPLE;
    return people - active + nx_int(r, (uint32_t)(active + PERSON_ID_LEAD));
}

static uint64_t random_auction(uint64_t e, nx_rng *r)
{
    uint64_t max = last_auction(e);
    uint64_t min = max > NUM_IN_FLIGHT_AUCTIONS ? max - NUM_IN_FLIGHT_AUCTIONS : 0;
    return min + nx_int(r, (uint32_t)(max - min + 1 + AUCTION_ID_LEAD));
}

/* ------------------------------------------------------------------ text */

/* 3..max-1 characters, each a letter or (1 in 13) `special`; one word
 * gives both choices. Blanks are trimmed as Java's String.trim does. */
static char *put_rand_string(char *p, nx_rng *r, uint32_t max, char special)
{
    uint32_t len = 3 + nx_int(r, max - 3);
    char *start = p;
    for (uint32_t i = 0; i < len; i++) {
        uint64_t w = nx_next(r);
        *p++ = below(w, 13) == 0 ? special : (char)('a' + below(w << 32, 26));
    }
    if (special != ' ')
        return p;
    char *lead = start;
    while (lead < p && *lead == ' ')
        lead++;
    while (p > lead && p[-1] == ' ')
        p--;
    memmove(start, lead, (size_t)(p - lead));
    return start + (p - lead);
}

/* Letters making current + extra average `average` bytes, +-20%. */
static char *put_extra(char *p, nx_rng *r, long current, long average)
{
    if (current > average)
        return p;
    long want = average - current;
    long delta = (long)floor((double)want * 0.2 + 0.5);
    long n = want - delta + (delta ? (long)nx_int(r, (uint32_t)(2 * delta)) : 0);
    /* 8 letters a word, whole words: up to 7 bytes past the end are
     * written and then overwritten (NEXMARK_LINE_MAX leaves room). */
    for (long i = 0; i < n; i += 8) {
        uint64_t w = nx_next(r);
        for (int j = 0; j < 8; j++)
            p[i + j] = (char)('a' + ((((w >> (8 * j)) & 0xff) * 26) >> 8));
    }
    return p + (n > 0 ? n : 0);
}

/* PriceGenerator: round(10^(6u) * 100), as Java's Math.round. */
static uint64_t rand_price(nx_rng *r)
{
    return (uint64_t)floor(pow(10.0, nx_unit(r) * 6.0) * 100.0 + 0.5);
}

static inline char *put_commas(char *p, int n)
{
    while (n-- > 0)
        *p++ = ',';
    return p;
}

/* ---------------------------------------------------------------- person */

static const char *const first_names[] = {"Peter", "Paul",  "Luke",  "John",   "Saul",  "Vicky",
                                          "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
static const char *const last_names[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                         "Walton", "Smith",  "Jones",   "Noris"};
static const char *const cities[] = {"Phoenix",  "Los Angeles", "San Francisco", "Boise",
                                     "Portland", "Bend",        "Redmond",       "Seattle",
                                     "Kent",     "Cheyenne"};
static const char *const states[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};

#define N_OF(a) (uint32_t)(sizeof(a) / sizeof((a)[0]))

static char *put_person(char *p, uint64_t e, nx_rng *r)
{
    p = put_u64(p, last_person(e) + FIRST_PERSON_ID);
    *p++ = ',';
    char *mark = p;
    p = put_str(p, first_names[nx_int(r, N_OF(first_names))]);
    *p++ = ' ';
    p = put_str(p, last_names[nx_int(r, N_OF(last_names))]);
    *p++ = ',';
    p = put_rand_string(p, r, 7, ' ');
    *p++ = '@';
    p = put_rand_string(p, r, 5, ' ');
    p = put_str(p, ".com,");
    for (int i = 0; i < 4; i++) {
        if (i)
            *p++ = ' ';
        p = put_fixed(p, nx_int(r, 10000), 4);
    }
    *p++ = ',';
    p = put_str(p, cities[nx_int(r, N_OF(cities))]);
    *p++ = ',';
    p = put_str(p, states[nx_int(r, N_OF(states))]);
    *p++ = ',';
    /* The project's size: 8 for the id plus the five strings (not the commas). */
    long size = 8 + (long)(p - mark) - 5;
    p = put_extra(p, r, size, AVG_PERSON_BYTES);
    return put_commas(p, 9 + 6);
}

/* --------------------------------------------------------------- auction */

static char *put_auction(char *p, uint64_t e, uint64_t n, uint64_t events_per_s, uint64_t ts,
                         uint64_t epoch_ms, nx_rng *r)
{
    p = put_commas(p, 7);
    p = put_u64(p, last_auction(e) + FIRST_AUCTION_ID);
    *p++ = ',';
    uint64_t seller = nx_int(r, HOT_SELLERS_RATIO) > 0 ? last_person(e) / HOT_RATIO * HOT_RATIO
                                                       : random_person(e, r);
    uint32_t category = FIRST_CATEGORY_ID + nx_int(r, NUM_CATEGORIES);
    uint64_t initial = rand_price(r);
    /* The auction lasts 1 + U[0, 2H) ms, H the time until 100 auctions later. */
    uint64_t ahead = (uint64_t)NUM_IN_FLIGHT_AUCTIONS * TOTAL_PROP / A_PROP;
    uint64_t future = epoch_ms + (uint64_t)((unsigned __int128)(n + ahead) * 1000u / events_per_s);
    uint64_t horizon = 2 * (future - ts);
    uint64_t expires = ts + 1 + nx_int(r, (uint32_t)(horizon > 1 ? horizon : 1));
    char *mark = p;
    p = put_rand_string(p, r, 20, ' ');
    *p++ = ',';
    p = put_rand_string(p, r, 100, ' ');
    long size = 8 + (long)(p - mark) - 1 + 8 * 5;
    *p++ = ',';
    p = put_u64(p, initial);
    *p++ = ',';
    p = put_u64(p, initial + rand_price(r));
    *p++ = ',';
    p = put_u64(p, expires);
    *p++ = ',';
    p = put_u64(p, seller + FIRST_PERSON_ID);
    *p++ = ',';
    p = put_u64(p, category);
    *p++ = ',';
    p = put_extra(p, r, size, AVG_AUCTION_BYTES);
    return put_commas(p, 6);
}

/* ------------------------------------------------------------------- bid */

static const char *const hot_channels[] = {"Google", "Facebook", "Baidu", "Apple"};

/* https://www.nexmark.com/xxx/xxx/xxx/item.htm?query=1 from its own
 * sequence, so a channel's URL is the same in every bid. */
static char *put_base_url(char *p, uint64_t which)
{
    nx_rng u = {mix64(NX_URL_SALT ^ mix64(which * GOLDEN))};
    p = put_str(p, "https://www.nexmark.com/");
    for (int i = 0; i < 3; i++) {
        p = put_rand_string(p, &u, 5, '_');
        *p++ = '/';
    }
    p = put_str(p, "item.htm?query=1");
    if (which >= CHANNELS) /* a hot channel's URL has no channel_id */
        return p;
    if (nx_int(&u, 10) == 0)
        return p;
    /* Math.abs(Integer.reverse(N)): channel 1 reverses to INT32_MIN, whose
     * absolute value in Java's int is itself. */
    uint32_t v = (uint32_t)which, rev = 0;
    for (int b = 0; b < 32; b++, v >>= 1)
        rev = (rev << 1) | (v & 1);
    int64_t id = (int64_t)(int32_t)rev;
    p = put_str(p, "&channel_id=");
    return put_i64(p, id < 0 && id != INT32_MIN ? -id : id);
}

static char *put_bid(char *p, uint64_t e, nx_rng *r)
{
    p = put_commas(p, 7 + 9);
    uint64_t auction = nx_int(r, HOT_AUCTIONS_RATIO) > 0 ? last_auction(e) / HOT_RATIO * HOT_RATIO
                                                         : random_auction(e, r);
    uint64_t bidder = nx_int(r, HOT_BIDDERS_RATIO) > 0 ? last_person(e) / HOT_RATIO * HOT_RATIO + 1
                                                       : random_person(e, r);
    p = put_u64(p, auction + FIRST_AUCTION_ID);
    *p++ = ',';
    p = put_u64(p, bidder + FIRST_PERSON_ID);
    *p++ = ',';
    p = put_u64(p, rand_price(r));
    *p++ = ',';
    if (nx_int(r, 2) > 0) {
        uint32_t i = nx_int(r, N_OF(hot_channels));
        p = put_str(p, hot_channels[i]);
        *p++ = ',';
        p = put_base_url(p, CHANNELS + i);
    } else {
        uint32_t c = nx_int(r, CHANNELS);
        p = put_str(p, "channel-");
        p = put_u64(p, c);
        *p++ = ',';
        p = put_base_url(p, c);
    }
    *p++ = ',';
    return put_extra(p, r, 8 * 4, AVG_BID_BYTES);
}

/* ------------------------------------------------------------------ event */

char *gen_nexmark(uint64_t seed, uint64_t seq, uint64_t events_per_s, int64_t epoch_ms, char *p)
{
    uint64_t n = seq + 1, e = n + 1;
    /* Times in unsigned arithmetic: past 2^63 ms (unreachable) they wrap. */
    uint64_t ts = (uint64_t)epoch_ms + (uint64_t)((unsigned __int128)n * 1000u / events_per_s);
    nx_rng r = {mix64(mix64(seed ^ NX_SALT) + mix64(e * GOLDEN))};
    uint64_t off = e % TOTAL_PROP;
    int kind = off < P_PROP ? 0 : off < P_PROP + A_PROP ? 1 : 2;
    *p++ = (char)('0' + kind);
    *p++ = ',';
    p = put_u64(p, ts);
    *p++ = ',';
    if (kind == 0)
        return put_person(p, e, &r);
    if (kind == 1)
        return put_auction(p, e, n, events_per_s, ts, (uint64_t)epoch_ms, &r);
    return put_bid(p, e, &r);
}
