/*
 * gen_nexmark: the Nexmark benchmark's events (persons, auctions, bids of an
 * online auction) as `generator kind=nexmark` and `ember gen nexmark`, one
 * wide CSV line per event. Event `seq` is a pure function of (seed, seq),
 * like every other generator kind; gen.c dispatches here.
 */
#ifndef EMBER_GEN_NEXMARK_H
#define EMBER_GEN_NEXMARK_H

#include <stddef.h>
#include <stdint.h>

/* The 24 columns: event_type (0 person, 1 auction, 2 bid), date_time, then
 * the person's, the auction's and the bid's fields; the fields of the other
 * two kinds are empty. */
#define NEXMARK_FIELDS                                                                             \
    "event_type:int,date_time:int,"                                                                \
    "person_id:int,person_name,person_email_address,person_credit_card,person_city,"               \
    "person_state,person_extra,"                                                                   \
    "auction_id:int,auction_item_name,auction_description,auction_initial_bid:int,"                \
    "auction_reserve:int,auction_expires:int,auction_seller:int,auction_category:int,"             \
    "auction_extra,"                                                                               \
    "bid_auction:int,bid_bidder:int,bid_price:int,bid_channel,bid_url,bid_extra"

/* The longest line it can write (see the bound in gen_nexmark.c), without
 * the terminating NUL. */
#define NEXMARK_LINE_MAX 960

/* Writes event seq as one CSV line at p (room for NEXMARK_LINE_MAX + 1);
 * returns the end of the line (not terminated). events_per_s: events per
 * second of event time (> 0). */
char *gen_nexmark(uint64_t seed, uint64_t seq, uint64_t events_per_s, int64_t epoch_ms, char *p);

#endif
