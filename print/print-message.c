/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The messages a user sees when mnguard cancels a print job (see print-message.h). */
#include "print-message.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strutil.h"

/* The reasons policy_decide_print() gives for a max-pages refusal (policy/policy-eval.c). */
#define REASON_PAGES_UNKNOWN "page count unknown"
#define REASON_PAGES_OVER    "more pages than"

#define FIELD_MAX 256 /* bytes of a rule name, contact or detail shown */

static bool starts_with(const char *s, const char *prefix) {
        return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

int print_message_build(PrintProblem problem, const PrintVerdict *v, uint32_t pages, const char *contact,
                  const char *detail, char **ret) {
        _cleanup_free_ char *rule = NULL, *who = NULL, *what = NULL;
        const char *ja_who, *en_who;
        char *s = NULL;
        int k;

        /* Rule names and the contact come from the signed policy, details from the system: still
         * escaped, since the line must stay one line. */
        rule = terminal_escape(v && v->rule ? v->rule : POLICY_RULE_DEFAULT, FIELD_MAX);
        who = contact && *contact ? terminal_escape(contact, FIELD_MAX) : NULL;
        what = terminal_escape(detail ?: "", FIELD_MAX);
        if (!rule || !what || (contact && *contact && !who))
                return -ENOMEM;
        ja_who = who ?: PRINT_CONTACT_DEFAULT_JA;
        en_who = who ?: PRINT_CONTACT_DEFAULT_EN;

        switch (problem) {
        case PRINT_PROBLEM_DENIED:
                if (v && starts_with(v->reason, REASON_PAGES_UNKNOWN))
                        k = asprintf(&s,
                                     "ページ数を確認できないため印刷できません（規則「%s」は枚数を制限しています）。"
                                     "PDF か PostScript で印刷し直すか、%sに申請してください。 / "
                                     "Printing refused: the page count could not be determined and rule \"%s\" "
                                     "limits pages. Print as PDF or PostScript, or ask %s.",
                                     rule, ja_who, rule, en_who);
                else if (v && starts_with(v->reason, REASON_PAGES_OVER))
                        k = asprintf(&s,
                                     "ページ数（部数込み %u）が規則「%s」の上限を超えているため印刷できません。"
                                     "必要な場合は%sに申請してください。 / "
                                     "Printing refused: %u pages (copies included) are more than rule \"%s\" "
                                     "allows. To print more, ask %s.",
                                     pages, rule, ja_who, pages, rule, en_who);
                else
                        k = asprintf(&s,
                                     "この印刷はセキュリティポリシーにより禁止されています（規則「%s」）。"
                                     "必要な場合は%sに申請してください。 / "
                                     "Printing is blocked by the security policy (rule \"%s\"). "
                                     "To request an exception, ask %s.",
                                     rule, ja_who, rule, en_who);
                break;
        case PRINT_PROBLEM_NO_POLICY:
                k = asprintf(&s,
                             "端末保護機能（mnguard）が停止していてポリシーも無いため、印刷を中止しました。"
                             "%sに連絡してください。 / "
                             "Printing cancelled: the terminal guard (mnguard) is not running and no policy is "
                             "available. Please contact %s.",
                             ja_who, en_who);
                break;
        case PRINT_PROBLEM_DEVICE:
                k = asprintf(&s,
                             "プリンターの設定に問題があるため印刷を中止しました（%s）。%sに連絡してください。 / "
                             "Printing cancelled: this printer is misconfigured (%s). Please contact %s.",
                             what, ja_who, what, en_who);
                break;
        case PRINT_PROBLEM_DOCUMENT:
                k = asprintf(&s,
                             "印刷内容を確認できなかったため印刷を中止しました（%s）。もう一度印刷してください。 / "
                             "Printing cancelled: the document could not be checked (%s). Please try again.",
                             what, what);
                break;
        case PRINT_PROBLEM_DAEMON:
                k = asprintf(&s,
                             "端末保護機能（mnguard）が印刷を記録できなかったため中止しました（%s）。"
                             "%sに連絡してください。 / "
                             "Printing cancelled: the terminal guard (mnguard) could not record the job (%s). "
                             "Please contact %s.",
                             what, ja_who, what, en_who);
                break;
        default:
                return -EINVAL;
        }
        if (k < 0)
                return -ENOMEM;
        if (strlen(s) > PRINT_MESSAGE_MAX) {
                /* cut at a character boundary */
                char *cut = untrusted_sanitize(s, strlen(s), PRINT_MESSAGE_MAX);
                free(s);
                if (!cut)
                        return -ENOMEM;
                s = cut;
        }
        *ret = s;
        return 0;
}
