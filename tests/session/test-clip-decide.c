/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Clipboard decisions and the session policy reply: table-driven. */
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "clip-decide.h"
#include "macro.h"
#include "session-policy.h"

#define POLICY_JSON(extra) \
        "{\"ok\":true,\"clipboard\":{\"protected-apps\":[\"mynumber-app\"],\"allowed-apps\":[\"Report-Tool\"]," \
        "\"allow-within-app\":true,\"detect-individual-number\":true,\"default\":\"block\"" extra "}," \
        "\"serial\":7,\"name\":\"テスト\",\"mode\":\"enforce\",\"contact\":\"情報政策課\"}"

static SessionPolicy *parse(const char *text) {
        json_object *o = json_tokener_parse(text);
        SessionPolicy *p = NULL;
        assert_non_null(o);
        assert_int_equal(session_policy_from_json(o, &p), 0);
        json_object_put(o);
        return p;
}

static const ClipApp MN = { "mynumber-app", 0x200000 };
static const ClipApp MN2 = { "MyNumber-App", 0x400000 };  /* another instance, class in other case */
static const ClipApp REPORT = { "report-tool", 0x600000 };
static const ClipApp EDITOR = { "gedit", 0x800000 };
static const ClipApp XCLIP = { NULL, 0xa00000 };          /* no WM_CLASS */
static const ClipApp EDITOR_SELF = { "gedit", 0x800000 };

static const struct {
        const char *name;
        const ClipApp *owner;
        uint64_t numbers;
        const ClipApp *requestor;
        ClipVerdict verdict;
} cases[] = {
        { "protected to another app", &MN, 0, &EDITOR, CLIP_REFUSE_PROTECTED },
        { "protected to a client without WM_CLASS", &MN, 0, &XCLIP, CLIP_REFUSE_PROTECTED },
        { "protected within the app", &MN, 0, &MN, CLIP_SERVE },
        { "protected to another instance of the app", &MN, 0, &MN2, CLIP_SERVE },
        { "protected to an allowed app (case-insensitive)", &MN, 0, &REPORT, CLIP_SERVE },
        { "unprotected to anyone", &EDITOR, 0, &XCLIP, CLIP_SERVE },
        { "number from unprotected to another", &EDITOR, 1, &XCLIP, CLIP_REFUSE_NUMBER },
        { "number from unprotected to itself", &EDITOR, 2, &EDITOR_SELF, CLIP_REFUSE_NUMBER },
        { "number from unprotected to an allowed app", &EDITOR, 1, &REPORT, CLIP_REFUSE_NUMBER },
        { "number from protected within the app", &MN, 1, &MN, CLIP_SERVE },
        { "number from protected to an allowed app", &MN, 1, &REPORT, CLIP_REFUSE_NUMBER },
        { "number from protected to another", &MN, 3, &EDITOR, CLIP_REFUSE_NUMBER },
        { "owner without class to itself (same client)", &XCLIP, 0, &XCLIP, CLIP_SERVE },
};

static void test_decide_table(void **state) {
        _cleanup_(session_policy_freep) SessionPolicy *p = parse(POLICY_JSON(""));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ClipDecision d;
                clip_decide(p, cases[i].owner, cases[i].numbers, cases[i].requestor, &d);
                if (d.verdict != cases[i].verdict)
                        fail_msg("%s: verdict %d, expected %d", cases[i].name, d.verdict, cases[i].verdict);
                assert_true(d.enforce);
                assert_true((d.reason != NULL) == (d.verdict != CLIP_SERVE));
        }
}

static void test_must_take_over(void **state) {
        _cleanup_(session_policy_freep) SessionPolicy *p = parse(POLICY_JSON(""));
        assert_true(clip_must_take_over(p, &MN, 0));
        assert_true(clip_must_take_over(p, &MN2, 0));
        assert_false(clip_must_take_over(p, &EDITOR, 0));
        assert_true(clip_must_take_over(p, &EDITOR, 1));
        assert_false(clip_must_take_over(p, &XCLIP, 0));
        p->detect_individual_number = false;
        assert_false(clip_must_take_over(p, &EDITOR, 1));
}

static void test_no_within_app(void **state) {
        _cleanup_(session_policy_freep) SessionPolicy *p = parse(POLICY_JSON(",\"allow-within-app\":false"));
        ClipDecision d;
        clip_decide(p, &MN, 0, &MN2, &d);
        assert_int_equal(d.verdict, CLIP_REFUSE_PROTECTED);
        clip_decide(p, &MN, 1, &MN, &d);
        assert_int_equal(d.verdict, CLIP_REFUSE_NUMBER);
        clip_decide(p, &MN, 0, &REPORT, &d);
        assert_int_equal(d.verdict, CLIP_SERVE);
}

static void test_default_allow_and_audit(void **state) {
        _cleanup_(session_policy_freep) SessionPolicy *p = parse(POLICY_JSON(",\"default\":\"allow\""));
        ClipDecision d;
        clip_decide(p, &MN, 0, &EDITOR, &d);
        assert_int_equal(d.verdict, CLIP_SERVE);
        clip_decide(p, &EDITOR, 1, &XCLIP, &d); /* numbers are never exported, default or not */
        assert_int_equal(d.verdict, CLIP_REFUSE_NUMBER);

        p->default_allow = false;
        p->audit = true;
        clip_decide(p, &MN, 0, &EDITOR, &d);
        assert_int_equal(d.verdict, CLIP_REFUSE_PROTECTED);
        assert_false(d.enforce);
        assert_non_null(strstr(d.reason, "audit"));
}

static void test_defaults_before_daemon(void **state) {
        _cleanup_(session_policy_freep) SessionPolicy *p = NULL;
        assert_int_equal(session_policy_new_default(&p), 0);
        assert_false(p->from_daemon);
        assert_true(p->detect_individual_number);
        assert_false(p->default_allow);
        ClipDecision d;
        clip_decide(p, &EDITOR, 1, &XCLIP, &d);
        assert_int_equal(d.verdict, CLIP_REFUSE_NUMBER);
}

static void test_policy_fields(void **state) {
        _cleanup_(session_policy_freep) SessionPolicy *p = parse(POLICY_JSON(""));
        assert_true(p->from_daemon);
        assert_int_equal(p->serial, 7);
        assert_string_equal(p->name, "テスト");
        assert_string_equal(p->contact, "情報政策課");
        assert_int_equal(p->n_protected_apps, 1);
        assert_true(session_policy_app_allowed(p, "REPORT-TOOL"));
        assert_false(session_policy_app_allowed(p, "report-tool2"));
        assert_false(session_policy_app_protected(p, NULL));
        assert_false(session_policy_app_protected(p, ""));
}

static void test_policy_bad(void **state) {
        static const char *bad[] = {
                "{\"ok\":true}",
                "{\"clipboard\":[]}",
                "{\"clipboard\":{\"protected-apps\":\"x\"}}",
                "{\"clipboard\":{\"protected-apps\":[1]}}",
                "{\"clipboard\":{\"allow-within-app\":\"yes\"}}",
                "{\"clipboard\":{\"default\":\"maybe\"}}",
                "{\"clipboard\":{},\"serial\":-1}",
                "{\"clipboard\":{},\"name\":7}",
                "{\"clipboard\":{\"protected-apps\":[\"a\\u0000b\"]}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_object *o = json_tokener_parse(bad[i]);
                SessionPolicy *p = NULL;
                assert_non_null(o);
                if (session_policy_from_json(o, &p) != -EBADMSG)
                        fail_msg("accepted: %s", bad[i]);
                json_object_put(o);
        }
        /* one name over the bound */
        char big[SESSION_POLICY_APP_MAX + 64];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        json_object *o = json_object_new_object(), *cb = json_object_new_object(), *a = json_object_new_array();
        json_object_array_add(a, json_object_new_string(big));
        json_object_object_add(cb, "protected-apps", a);
        json_object_object_add(o, "clipboard", cb);
        SessionPolicy *p = NULL;
        assert_int_equal(session_policy_from_json(o, &p), -EBADMSG);
        json_object_put(o);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decide_table),
                cmocka_unit_test(test_must_take_over),
                cmocka_unit_test(test_no_within_app),
                cmocka_unit_test(test_default_allow_and_audit),
                cmocka_unit_test(test_defaults_before_daemon),
                cmocka_unit_test(test_policy_fields),
                cmocka_unit_test(test_policy_bad),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
