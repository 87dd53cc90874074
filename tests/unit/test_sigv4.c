/*
 * test_sigv4: core/base/sigv4.c. The expected values come from an
 * independent signer (tests/integration/test_kinesis.py's signature(), in
 * Python's hashlib/hmac, written from AWS's description) over the same
 * request at a fixed time.
 */
#include "core/base/sigv4.h"

#include <check.h>
#include <string.h>

static const sigv4_request req = {
    "kinesis.us-east-1.amazonaws.com", "us-east-1", "kinesis", "application/x-amz-json-1.1",
    "Kinesis_20131202.ListShards", "{\"StreamName\":\"s\"}", 1700000000,
};

START_TEST(signs_a_post_with_long_term_credentials)
{
    sigv4_creds c = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};
    char date[17], auth[512];
    sigv4_sign(&c, &req, date, auth, sizeof auth);
    ck_assert_str_eq(date, "20231114T221320Z");
    ck_assert_str_eq(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/kinesis/"
                           "aws4_request, SignedHeaders=content-type;host;x-amz-date;"
                           "x-amz-target, Signature=ba88e212a71df425a673538fc3f4f1c155f75ffa"
                           "68df5148982a237d4a1644ac");
}
END_TEST

START_TEST(a_session_token_is_a_signed_header)
{
    sigv4_creds c = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "tok123"};
    char date[17], auth[512];
    sigv4_sign(&c, &req, date, auth, sizeof auth);
    ck_assert_str_eq(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/kinesis/"
                           "aws4_request, SignedHeaders=content-type;host;x-amz-date;"
                           "x-amz-security-token;x-amz-target, Signature=563453148795a86d02007c"
                           "9eb9c8f6596f592688000bdea9bae5b2f5f306f555");
}
END_TEST

START_TEST(another_body_changes_the_signature)
{
    sigv4_creds c = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};
    sigv4_request other = req;
    other.body = "{\"StreamName\":\"t\"}";
    char date[17], a[512], b[512];
    sigv4_sign(&c, &req, date, a, sizeof a);
    sigv4_sign(&c, &other, date, b, sizeof b);
    ck_assert_str_ne(a, b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sigv4");
    TCase *tc = tcase_create("sigv4");
    tcase_add_test(tc, signs_a_post_with_long_term_credentials);
    tcase_add_test(tc, a_session_token_is_a_signed_header);
    tcase_add_test(tc, another_body_changes_the_signature);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
