/*
 * gen: deterministic record generators (sensors, ads, transactions, posts,
 * clicks, trades; nexmark lives in gen_nexmark.c).
 *
 * Record `seq` of kind K with seed S is a pure function of (K, S, seq): a
 * counter-based hash (the splitmix64 finalizer) of the stream key and seq
 * gives the random words, so generating [500, 600) alone yields exactly the
 * slice of generating [0, 1000). There is no state between calls, which is
 * what makes `source generator` replayable and lets workers generate in
 * parallel. This runs at millions of records per second, so digits are
 * written by hand rather than through snprintf.
 *
 * Kinds and their CSV:
 *   sensors       sensor,ts:int,temp:float
 *                 s0001..s1000; each sensor has its own base temperature and
 *                 readings are base + noise in [-20, 45) with 2 decimals.
 *                 About 1 in 500 records comes from the test sensor "test",
 *                 about 1 in 1000 reads the glitch value -99.00.
 *   ads           user_id,page_id,ad_id,ad_type,event_type,event_time:int,ip
 *                 The Yahoo Streaming Benchmark's events. 1000 ads in 100
 *                 campaigns of 10; the ids do not depend on the seed:
 *                 campaign c (0..99) has the UUID gen_uuid(AD_SALT, c) with
 *                 its last 4 hex digits "0000", and ad j (0..9) of that
 *                 campaign is the same UUID ending in j+1 as 4 hex digits
 *                 ("0001".."000a"). So an ad's campaign is its first 32
 *                 characters followed by "0000", and a campaigns table can be
 *                 generated from c alone.
 *   transactions  card,merchant,amount:float,ts:int
 *                 16-digit Luhn-valid card numbers from a pool of 100000,
 *                 merchants m00001..m05000, amounts with a long tail
 *                 (2 decimals): 90% in [1, 200), 9% in [200, 2000), 1% in
 *                 [2000, 10000).
 *   posts         user,hashtag,ts:int
 *                 users u000001..u100000; 200 hashtags #topic000..#topic199
 *                 with a power-law skew (#topic000 most frequent, ~15%), and
 *                 in 1 of 8 posts the tag trending in that minute of event
 *                 time: #trendingNN with NN = (ts / 60000) % 50, the minute
 *                 counted from the Unix epoch so that it changes exactly at
 *                 the boundaries of `tumbling 1m` windows (GEN_EPOCH_MS is
 *                 20 s past a minute). Each minute's top hashtags are then
 *                 #topic000, that minute's trending tag, #topic001, ...
 *   clicks        user,item,ts:int
 *                 8 sessions run side by side: record seq is in lane seq % 8
 *                 and session s = lane + 8 * (seq / 400), so session s holds
 *                 the 50 records seq = 400 * (s / 8) + s % 8 + 8 * i, i < 50:
 *                 one user's clicks 8 ms apart (at most 108 ms with jitter),
 *                 about 400 ms of event time. Session s has user u0001..u5000
 *                 number (s * 7919) % 5000 + 1 (7919 is prime, so 5000
 *                 consecutive sessions have 5000 distinct users): a user
 *                 comes back after exactly 5000 sessions, 250 s of event time
 *                 later, more than 249 s after its last click. So a session
 *                 window with any gap from 1 s to 4 minutes sees each session
 *                 exactly. Items i0000..i1999 come in 100 categories of 20
 *                 (item / 20); a session clicks items of one category chosen
 *                 per session, so items viewed together correlate.
 *   trades        symbol,price:float,qty:int,ts:int
 *                 50 ticker symbols (AAPL, MSFT, ...), uniformly chosen. A
 *                 symbol's price is its base in [20, 500) (per seed and
 *                 symbol), plus a triangle wave of +-5% of the base over a
 *                 10-minute period of event time (phase shifted per
 *                 symbol), plus +-0.25% noise per record, 2 decimals; so
 *                 consecutive trades of a symbol stay within ~0.5% of each
 *                 other while it drifts ~10% in 5 minutes. qty 1..1000.
 * Every event time, clicks' included, is GEN_EPOCH_MS + seq + jitter, jitter
 * uniform in [-50, 50], so events arrive slightly out of order.
 */
#include "core/ops/gen.h"
#include "core/ops/gen_nexmark.h"
#include "core/ops/gen_put.h"

#include <string.h>

#define AD_SALT 0xad5a17ad5a17ad5aull
#define USER_SALT 0x05e705e705e705e7ull
#define PAGE_SALT 0x0ba6e0ba6e0ba6e0ull
#define CARD_SALT 0xca4dca4dca4dca4dull
#define SENSOR_SALT 0x5e4505e4505e4505ull

#define N_SENSORS 1000
#define N_CAMPAIGNS 100
#define ADS_PER_CAMPAIGN 10
#define N_USERS 100000
#define N_PAGES 10000
#define N_CARDS 100000
#define N_MERCHANTS 5000
#define JITTER_MS 50

#define N_POST_USERS 100000
#define N_TOPICS 200
#define N_TRENDING 50
#define CLICK_LANES 8
#define CLICKS_PER_SESSION 50
#define N_CLICK_USERS 5000
#define ITEMS_PER_CATEGORY 20
#define N_CATEGORIES 100
#define N_SYMBOLS 50
#define TRADE_PERIOD_MS 600000

static const char *const kind_names[GEN_KIND_COUNT] = {
    "sensors", "ads", "transactions", "posts", "clicks", "trades", "nexmark"};

static const char *const kind_fields[GEN_KIND_COUNT] = {
    "sensor,ts:int,temp:float",
    "user_id,page_id,ad_id,ad_type,event_type,event_time:int,ip",
    "card,merchant,amount:float,ts:int",
    "user,hashtag,ts:int",
    "user,item,ts:int",
    "symbol,price:float,qty:int,ts:int",
    NEXMARK_FIELDS,
};

static const char *const kind_docs[GEN_KIND_COUNT] = {
    "temperature readings of sensors s0001..s1000, with a test sensor and -99 glitches",
    "Yahoo Streaming Benchmark ad events: 1000 ads in 100 campaigns",
    "card transactions: card number, merchant, amount",
    "social posts: user and hashtag, skewed, with a per-minute trending tag",
    "product clicks in user sessions (50 clicks, one category each)",
    "stock trades of 50 symbols: price waves around a base, quantity",
    "the Nexmark benchmark's persons, auctions and bids (2%/6%/92%), one wide row each",
};

_Static_assert(NEXMARK_LINE_MAX < GEN_LINE_MAX, "GEN_LINE_MAX holds a nexmark line");

static const char *const symbols[N_SYMBOLS] = {
    "AAPL", "MSFT", "AMZN", "GOOG", "META", "NVDA", "TSLA", "JPM",  "V",    "JNJ",
    "WMT",  "PG",   "MA",   "UNH",  "HD",   "DIS",  "BAC",  "XOM",  "KO",   "PEP",
    "CSCO", "ORCL", "INTC", "AMD",  "NFLX", "ADBE", "CRM",  "T",    "VZ",   "PFE",
    "MRK",  "ABT",  "NKE",  "MCD",  "IBM",  "QCOM", "TXN",  "AVGO", "COST", "CVX",
    "WFC",  "GS",   "MS",   "C",    "BA",   "CAT",  "GE",   "MMM",  "HON",  "UPS",
};

static const char *const ad_types[] = {"banner", "modal", "sponsored-search", "mail", "mobile"};
static const char *const event_types[] = {"view", "click", "purchase"};

int gen_kind_parse(const char *name)
{
    for (int k = 0; k < GEN_KIND_COUNT; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    return -1;
}

const char *gen_kind_name(gen_kind k)
{
    return (unsigned)k < GEN_KIND_COUNT ? kind_names[k] : "?";
}

const char *gen_fields(gen_kind k)
{
    return (unsigned)k < GEN_KIND_COUNT ? kind_fields[k] : "";
}

const char *gen_doc(gen_kind k)
{
    return (unsigned)k < GEN_KIND_COUNT ? kind_docs[k] : "";
}

/* ---------------------------------------------------------------- hashing */

/* The i-th random word of record seq; independent across (stream, seq, i). */
static inline uint64_t word(uint64_t stream, uint64_t seq, unsigned i)
{
    return mix64(stream + mix64(seq * GOLDEN + i));
}

static inline uint64_t stream_key(gen_kind k, uint64_t seed)
{
    return mix64(seed ^ ((uint64_t)(k + 1) * GOLDEN));
}

/* ---------------------------------------------------------------- writers */

/* A fixed-point number with 2 decimals from hundredths, e.g. -1234 -> -12.34. */
static inline char *put_cents(char *p, int64_t cents)
{
    uint64_t mag = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    if (cents < 0)
        *p++ = '-';
    p = put_u64(p, mag / 100);
    *p++ = '.';
    return put_fixed(p, mag % 100, 2);
}

static inline char *put_hex(char *p, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--) {
        p[i] = hex[v & 15];
        v >>= 4;
    }
    return p + digits;
}

/* Version-4-shaped UUID from two words: 8-4-4-4-12 lowercase hex. */
static char *put_uuid(char *p, uint64_t hi, uint64_t lo)
{
    hi = (hi & ~0xf000ull) | 0x4000ull;             /* version 4 */
    lo = (lo & ~(0xcull << 60)) | (0x8ull << 60);   /* variant 10xx */
    p = put_hex(p, hi >> 32, 8);
    *p++ = '-';
    p = put_hex(p, (hi >> 16) & 0xffff, 4);
    *p++ = '-';
    p = put_hex(p, hi & 0xffff, 4);
    *p++ = '-';
    p = put_hex(p, lo >> 48, 4);
    *p++ = '-';
    return put_hex(p, lo & 0xffffffffffffull, 12);
}

static inline char *put_pool_uuid(char *p, uint64_t salt, uint64_t idx)
{
    return put_uuid(p, mix64(salt + idx * GOLDEN), mix64(~salt + idx * GOLDEN));
}

/* Ad `ad` (0..999): its campaign's UUID with the last 4 hex digits set to
 * the ad's number inside the campaign, 1-based (0000 is the campaign). */
static char *put_ad_id(char *p, uint32_t ad)
{
    uint64_t c = ad / ADS_PER_CAMPAIGN;
    uint64_t lo = mix64(~AD_SALT + c * GOLDEN);
    lo = (lo & ~0xffffull) | (ad % ADS_PER_CAMPAIGN + 1);
    return put_uuid(p, mix64(AD_SALT + c * GOLDEN), lo);
}

/* `ms`: the record's offset from GEN_EPOCH_MS before jitter (seq at the
 * default 1000 events per second of event time). */
static inline int64_t event_time(uint64_t ms, uint64_t w)
{
    return GEN_EPOCH_MS + (int64_t)ms + (int64_t)below(w, 2 * JITTER_MS + 1) - JITTER_MS;
}

/* ---------------------------------------------------------------- kinds */

static char *gen_sensor(uint64_t key, uint64_t seq, uint64_t ms, char *p)
{
    uint64_t w0 = word(key, seq, 0), w1 = word(key, seq, 1);
    uint32_t roll = below(w0, 1000);
    uint32_t s = below(w1, N_SENSORS);
    if (roll < 2) {
        p = put_str(p, "test");
    } else {
        *p++ = 's';
        p = put_fixed(p, s + 1, 4);
    }
    *p++ = ',';
    p = put_i64(p, event_time(ms, word(key, seq, 2)));
    *p++ = ',';
    if (roll == 2)
        return put_str(p, "-99.00");
    /* Base in [-20.00, 25.00) per sensor, noise in [0, 20.00): [-20, 45). */
    int64_t base = -2000 + (int64_t)below(mix64(SENSOR_SALT ^ key ^ s), 4500);
    return put_cents(p, base + (int64_t)below(word(key, seq, 3), 2000));
}

static char *gen_ad(uint64_t key, uint64_t seq, uint64_t ms, char *p)
{
    uint64_t w0 = word(key, seq, 0), w1 = word(key, seq, 1);
    uint64_t w2 = word(key, seq, 2), ip = word(key, seq, 3);
    p = put_pool_uuid(p, USER_SALT ^ key, below(w0, N_USERS));
    *p++ = ',';
    p = put_pool_uuid(p, PAGE_SALT ^ key, below(w1, N_PAGES));
    *p++ = ',';
    p = put_ad_id(p, below(w2, N_CAMPAIGNS * ADS_PER_CAMPAIGN));
    *p++ = ',';
    p = put_str(p, ad_types[below(w0 << 32, 5)]);
    *p++ = ',';
    p = put_str(p, event_types[below(w1 << 32, 3)]);
    *p++ = ',';
    p = put_i64(p, event_time(ms, w2 << 32));
    *p++ = ',';
    p = put_u64(p, 1 + below(ip, 223));
    for (int i = 1; i < 4; i++) {
        *p++ = '.';
        p = put_u64(p, (ip >> (8 * i)) & 0xff);
    }
    return p;
}

/* 16-digit card number starting with 4 whose last digit is the Luhn check. */
static char *put_card(char *p, uint64_t idx)
{
    uint64_t body = mix64(CARD_SALT + idx * GOLDEN) % 100000000000000ull; /* 14 digits */
    char *start = p;
    *p++ = '4';
    p = put_fixed(p, body, 14);
    int sum = 0;
    for (int i = 14; i >= 0; i--) {
        int d = start[i] - '0';
        if ((14 - i) % 2 == 0) /* doubled: every second digit from the check digit */
            d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
    }
    *p++ = (char)('0' + (10 - sum % 10) % 10);
    return p;
}

/* An amount in cents: 90% in [1.00, 200.00), 9% in [200.00, 2000.00),
 * 1% in [2000.00, 10000.00). */
static int64_t amount_cents(uint64_t w)
{
    uint32_t tier = below(w, 100);
    uint64_t v = w & 0xffffffffull;
    if (tier < 90)
        return 100 + (int64_t)(v % 19900);
    if (tier < 99)
        return 20000 + (int64_t)(v % 180000);
    return 200000 + (int64_t)(v % 800000);
}

static char *gen_transaction(uint64_t key, uint64_t seq, uint64_t ms, char *p)
{
    uint64_t w0 = word(key, seq, 0), w1 = word(key, seq, 1);
    p = put_card(p, below(w0, N_CARDS));
    *p++ = ',';
    *p++ = 'm';
    p = put_fixed(p, 1 + below(w1, N_MERCHANTS), 5);
    *p++ = ',';
    p = put_cents(p, amount_cents(word(key, seq, 2)));
    *p++ = ',';
    return put_i64(p, event_time(ms, word(key, seq, 3)));
}

static char *gen_post(uint64_t key, uint64_t seq, uint64_t ms, char *p)
{
    uint64_t w0 = word(key, seq, 0), w1 = word(key, seq, 1);
    int64_t ts = event_time(ms, word(key, seq, 2));
    *p++ = 'u';
    p = put_fixed(p, 1 + below(w0, N_POST_USERS), 6);
    *p++ = ',';
    if (below(w1, 8) == 0) {
        p = put_str(p, "#trending");
        p = put_fixed(p, (uint64_t)(ts / 60000) % N_TRENDING, 2);
    } else {
        /* u^3 puts most of the mass on low ranks: a power-law-like skew. */
        double u = (double)(w1 & 0xffffffffull) / 4294967296.0;
        p = put_str(p, "#topic");
        p = put_fixed(p, (uint64_t)(u * u * u * N_TOPICS), 3);
    }
    *p++ = ',';
    return put_i64(p, ts);
}

static char *gen_click(uint64_t key, uint64_t seq, uint64_t ms, char *p)
{
    uint64_t lane = seq % CLICK_LANES, pos = seq / CLICK_LANES;
    uint64_t session = lane + CLICK_LANES * (pos / CLICKS_PER_SESSION);
    uint64_t category = below(mix64(key ^ (session * GOLDEN)), N_CATEGORIES);
    *p++ = 'u';
    p = put_fixed(p, (session * 7919) % N_CLICK_USERS + 1, 4);
    *p++ = ',';
    *p++ = 'i';
    p = put_fixed(p, category * ITEMS_PER_CATEGORY + below(word(key, seq, 0), ITEMS_PER_CATEGORY),
                  4);
    *p++ = ',';
    return put_i64(p, event_time(ms, word(key, seq, 1)));
}

/* Price in cents: base * (1 + 5% triangle wave + 0.25% noise). */
static int64_t trade_cents(uint64_t key, uint32_t sym, int64_t ts, uint64_t w)
{
    int64_t base = 2000 + (int64_t)below(mix64(key ^ (sym * GOLDEN)), 48000);
    int64_t phase = (ts - GEN_EPOCH_MS + (int64_t)sym * 12007) % TRADE_PERIOD_MS;
    if (phase < 0)
        phase += TRADE_PERIOD_MS;
    int64_t half = TRADE_PERIOD_MS / 2;
    int64_t tri = phase < half ? phase : TRADE_PERIOD_MS - phase; /* 0..half */
    int64_t wave = base * 5 * (2 * tri - half) / (100 * half);    /* +-5% */
    int64_t noise = base * ((int64_t)below(w, 51) - 25) / 10000;  /* +-0.25% */
    return base + wave + noise;
}

static char *gen_trade(uint64_t key, uint64_t seq, uint64_t ms, char *p)
{
    uint64_t w0 = word(key, seq, 0);
    uint32_t sym = below(w0, N_SYMBOLS);
    int64_t ts = event_time(ms, word(key, seq, 1));
    p = put_str(p, symbols[sym]);
    *p++ = ',';
    p = put_cents(p, trade_cents(key, sym, ts, word(key, seq, 2)));
    *p++ = ',';
    p = put_u64(p, 1 + below(word(key, seq, 3), 1000));
    *p++ = ',';
    return put_i64(p, ts);
}

size_t gen_line(gen_kind k, uint64_t seed, uint64_t seq, char *buf)
{
    return gen_line_at(k, seed, seq, GEN_EVENTS_PER_S, buf);
}

size_t gen_line_at(gen_kind k, uint64_t seed, uint64_t seq, uint64_t events_per_s, char *buf)
{
    uint64_t key = stream_key(k, seed);
    /* 128-bit product: seq * 1000 would overflow for endless streams. */
    uint64_t ms = events_per_s == GEN_EVENTS_PER_S
                      ? seq
                      : (uint64_t)((unsigned __int128)seq * 1000u / (events_per_s ? events_per_s : 1));
    char *end = buf;
    switch (k) {
    case GEN_SENSORS:
        end = gen_sensor(key, seq, ms, buf);
        break;
    case GEN_ADS:
        end = gen_ad(key, seq, ms, buf);
        break;
    case GEN_TRANSACTIONS:
        end = gen_transaction(key, seq, ms, buf);
        break;
    case GEN_POSTS:
        end = gen_post(key, seq, ms, buf);
        break;
    case GEN_CLICKS:
        end = gen_click(key, seq, ms, buf);
        break;
    case GEN_TRADES:
        end = gen_trade(key, seq, ms, buf);
        break;
    case GEN_NEXMARK:
        end = gen_nexmark(seed, seq, events_per_s ? events_per_s : 1, GEN_EPOCH_MS, buf);
        break;
    default:
        break;
    }
    *end = '\0';
    return (size_t)(end - buf);
}
