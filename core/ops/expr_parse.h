/*
 * expr_parse: the parser's state and the helpers that the syntax forms of
 * function calls (expr_call.c) share with the rest of the parser (expr.c);
 * not for use outside core/ops/expr*.c.
 */
#ifndef EMBER_OPS_EXPR_PARSE_H
#define EMBER_OPS_EXPR_PARSE_H

#include "core/ops/expr_node.h"

/* Parentheses nest at most this deep (the parser recurses on them). */
#define EXPR_MAX_PARENS 200

typedef enum tok_kind {
    T_END,
    T_INT,
    T_FLOAT,
    T_STR,
    T_IDENT,
    T_OP,
    T_LPAREN,
    T_RPAREN,
    T_COMMA
} tok_kind;

typedef struct parser {
    const char *src;
    const schema *in;
    size_t pos; /* start of the current token */
    tok_kind tok;
    size_t tok_len; /* token length in src */
    int depth;      /* open parentheses */
    ember_err *err;
} parser;

/* Reports a syntax error at 0-based offset at; returns the code. */
int syntax_error(parser *p, size_t at, const char *what);
/* Moves to the next token; 0 or the error code. */
int next_token(parser *p);
/* The current token is the keyword (any case) or operator text. */
int tok_is(const parser *p, const char *text);
/* The token after the current one is the keyword or operator text; the
 * parser does not move. */
int peek_is(parser *p, const char *text);
/* New node at 0-based column col over l and r; frees them on failure. */
expr *node(parser *p, node_kind k, ember_type t, size_t col, expr *l, expr *r);
/* 1 (and l, r freed, the error set) when a node over l and r is too deep. */
int too_deep(parser *p, int col, expr *l, expr *r);
/* Consumes the current token; frees e and returns NULL if the next is bad. */
expr *advance(parser *p, expr *e);
expr *type_error(parser *p, int col, expr *l, expr *r, const char *fmt, const char *a,
                 const char *b);
expr *parse_or(parser *p);
expr *parse_arith(parser *p, int level);

/* expr_call.c: name(args...), cast(x as T), case when ... end (atoms), and
 * what may follow the left operand of a comparison: [not] in (...),
 * [not] between a and b, [not] like p. */
expr *parse_call(parser *p);
expr *parse_case(parser *p);
/* 1 when the current token starts one of the postfix forms. */
int at_postfix_form(parser *p);
expr *parse_postfix_form(parser *p, expr *l);

#endif
