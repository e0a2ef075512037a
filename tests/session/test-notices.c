/* SPDX-License-Identifier: GPL-2.0-or-later */
/* From event records to notices to words: which events are shown, Japanese first with the English
 * beside it, the 申請 hint, folding counts, and hostile device strings. Uses the catalog built in the
 * build tree (MNGUARD_LOCALEDIR). */
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "i18n.h"
#include "macro.h"
#include "notices.h"

#define SELF_UID 1001
#define SELF_PID 4242

static Notice *from(const char *record) {
        json_object *o = json_tokener_parse(record);
        Notice *n = NULL;
        assert_non_null(o);
        assert_int_equal(notice_from_event(o, SELF_UID, SELF_PID, &n), 0);
        json_object_put(o);
        return n;
}

static NoticeText words(const Notice *n, uint64_t count, const char *contact, bool markup) {
        NoticeText t;
        assert_int_equal(notice_format(n, count, contact, markup, &t), 0);
        return t;
}

#define BLOCKED(user, extra)                                                                                    \
        "{\"event\":{\"action\":\"device-blocked\",\"outcome\":\"success\"}," user                             \
        "\"device\":{\"vendor\":\"0781\",\"product\":\"5581\",\"model\":\"Cruzer Blade\"" extra "},"           \
        "\"mnguard\":{\"rule\":\"default\",\"decision\":\"block\"}}"

static void test_device_blocked(void **state) {
        _cleanup_(notice_freep) Notice *n = from(BLOCKED("\"user\":{\"id\":1001},", ""));
        assert_non_null(n);
        assert_int_equal(n->kind, NOTICE_DEVICE_BLOCKED);
        assert_false(n->flag);
        NoticeText t = words(n, 1, "情報政策課 (内線 1234)", false);
        /* Japanese first, English beside it */
        const char *ja = strstr(t.summary, "使用できません"), *en = strstr(t.summary, "Device blocked");
        assert_non_null(ja);
        assert_non_null(en);
        assert_true(ja < en);
        assert_non_null(strstr(t.body, "Cruzer Blade (0781:5581)"));
        assert_non_null(strstr(t.body, "登録された媒体ではない"));
        assert_non_null(strstr(t.body, "情報政策課 (内線 1234) に申請"));
        assert_non_null(strstr(t.body, "apply (申請) to 情報政策課"));
        assert_true(strstr(t.body, "申請してください") < strstr(t.body, "To use it"));
        assert_int_equal(t.urgency, NOTICE_URGENCY_CRITICAL);
        assert_string_equal(t.icon, "drive-removable-media");
        notice_text_done(&t);

        /* without a contact: the generic hint */
        t = words(n, 1, NULL, false);
        assert_non_null(strstr(t.body, "情報セキュリティ担当者"));
        notice_text_done(&t);

        /* a storm folded: the count */
        t = words(n, 50, NULL, false);
        assert_non_null(strstr(t.summary, "50 台"));
        assert_non_null(strstr(t.summary, "50 devices blocked"));
        notice_text_done(&t);
}

static void test_which_events(void **state) {
        /* another user's: not ours (root's helper sees everyone's) */
        assert_null(from(BLOCKED("\"user\":{\"id\":1002},", "")));
        /* no user: the seat's, shown */
        Notice *n = from(BLOCKED("", ""));
        assert_non_null(n);
        notice_free(n);
        /* audit mode: not shown */
        assert_null(from("{\"event\":{\"action\":\"device-blocked\",\"outcome\":\"unknown\"},\"device\":{}}"));
        assert_null(from("{\"event\":{\"action\":\"device-connected\",\"outcome\":\"success\"},\"device\":{}}"));
        assert_null(from("{\"event\":{\"action\":\"admin-note\"}}"));
        assert_null(from("{\"event\":{}}"));
        assert_null(from("{}"));
        /* our own clipboard report comes back: already told */
        assert_null(from("{\"event\":{\"action\":\"clipboard-blocked\",\"outcome\":\"success\"},"
                         "\"process\":{\"pid\":4242},\"clipboard\":{\"source_app\":\"a\",\"target_app\":\"b\"}}"));
        n = from("{\"event\":{\"action\":\"clipboard-blocked\",\"outcome\":\"success\"},\"process\":{\"pid\":7},"
                 "\"clipboard\":{\"source_app\":\"mynumber-app\",\"target_app\":\"gedit\",\"individual_numbers\":2}}");
        assert_non_null(n);
        assert_int_equal(n->number, 2);
        NoticeText t = words(n, 1, NULL, false);
        assert_non_null(strstr(t.body, "個人番号が 2 件"));
        assert_non_null(strstr(t.body, "holds 2 individual numbers"));
        notice_text_done(&t);
        notice_free(n);
}

static void test_kinds(void **state) {
        Notice *n = from("{\"event\":{\"action\":\"device-allowed\",\"outcome\":\"success\"},"
                         "\"device\":{\"model\":\"Stick\"},\"mnguard\":{\"rule\":\"情報政策課-001\"}}");
        NoticeText t = words(n, 1, NULL, false);
        assert_non_null(strstr(t.body, "登録媒体「情報政策課-001」"));
        assert_int_equal(t.urgency, NOTICE_URGENCY_LOW);
        notice_text_done(&t);
        notice_free(n);

        n = from("{\"event\":{\"action\":\"device-read-only\",\"outcome\":\"success\"},"
                 "\"device\":{\"model\":\"CD\"},\"mnguard\":{\"rule\":\"配布用CD\"}}");
        t = words(n, 1, NULL, false);
        assert_non_null(strstr(t.summary, "読み取り専用"));
        notice_text_done(&t);
        notice_free(n);

        n = from("{\"event\":{\"action\":\"print-blocked\",\"outcome\":\"success\"},"
                 "\"print\":{\"queue\":\"pdf\",\"title\":\"住民票\"},\"mnguard\":{\"rule\":\"default\"}}");
        t = words(n, 1, "情報政策課", false);
        assert_non_null(strstr(t.body, "「住民票」は pdf で印刷されませんでした"));
        assert_non_null(strstr(t.body, "“住民票” was not printed on pdf"));
        notice_text_done(&t);
        notice_free(n);

        n = from("{\"event\":{\"action\":\"policy-applied\",\"outcome\":\"success\"},"
                 "\"mnguard\":{\"policy_serial\":2026112601,\"policy_name\":\"標準\",\"policy_mode\":\"audit\"}}");
        t = words(n, 1, NULL, false);
        assert_non_null(strstr(t.summary, "セキュリティポリシーが更新されました"));
        assert_non_null(strstr(t.body, "2026112601"));
        assert_non_null(strstr(t.body, "監査モード"));
        notice_text_done(&t);
        notice_free(n);

        assert_int_equal(notice_new_unguarded(&n), 0);
        t = words(n, 1, NULL, false);
        assert_non_null(strstr(t.body, "Wayland"));
        notice_text_done(&t);
        notice_free(n);
}

static void test_hostile_strings(void **state) {
        Notice *n = from("{\"event\":{\"action\":\"device-blocked\",\"outcome\":\"success\"},"
                 "\"device\":{\"model\":\"<b>evil</b> & \\u001b[31m\\u202eRTL\\u0007\"},"
                 "\"mnguard\":{\"rule\":\"<i>r</i>\"}}");
        NoticeText t = words(n, 1, "<a href='x'>IT</a>", true);
        assert_null(strchr(t.body, '<'));
        assert_null(strstr(t.body, "\xe2\x80\xae")); /* U+202E */
        assert_null(strchr(t.body, '\x1b'));
        assert_null(strchr(t.body, '\x07'));
        assert_non_null(strstr(t.body, "&lt;b&gt;evil"));
        assert_non_null(strstr(t.body, "&amp;"));
        notice_text_done(&t);
        /* without markup the text stays as is (cleaned) */
        t = words(n, 1, NULL, false);
        assert_non_null(strstr(t.body, "<b>evil</b> &"));
        notice_text_done(&t);
        notice_free(n);

        /* a very long model is capped */
        char rec[4096];
        char model[2000];
        memset(model, 'M', sizeof(model) - 1);
        model[sizeof(model) - 1] = 0;
        (void) snprintf(rec, sizeof(rec),
                        "{\"event\":{\"action\":\"device-blocked\",\"outcome\":\"success\"},\"device\":{\"model\":\"%s\"}}",
                        model);
        n = from(rec);
        assert_true(strlen(n->what) < NOTICE_FIELD_MAX + 32);
        notice_free(n);
}

static int setup(void **state) {
        mn_i18n_init();
        if (!mn_i18n_have_japanese()) {
                fprintf(stderr, "the ja catalog was not found under MNGUARD_LOCALEDIR=%s\n", getenv("MNGUARD_LOCALEDIR"));
                return -1;
        }
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_device_blocked),
                cmocka_unit_test(test_which_events),
                cmocka_unit_test(test_kinds),
                cmocka_unit_test(test_hostile_strings),
        };
        return cmocka_run_group_tests(tests, setup, NULL);
}
