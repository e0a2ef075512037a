/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "clip-decide.h"

#include <stddef.h>

#include "macro.h"

bool clip_same_app(const ClipApp *a, const ClipApp *b) {
        if (a->client != 0 && a->client == b->client)
                return true;
        return !isempty(a->class_name) && session_app_name_equal(a->class_name, b->class_name);
}

bool clip_owner_protected(const SessionPolicy *p, const ClipApp *owner) {
        return session_policy_app_protected(p, owner->class_name);
}

bool clip_must_take_over(const SessionPolicy *p, const ClipApp *owner, uint64_t n_numbers) {
        return clip_owner_protected(p, owner) || (p->detect_individual_number && n_numbers > 0);
}

void clip_decide(const SessionPolicy *p, const ClipApp *owner, uint64_t n_numbers, const ClipApp *requestor,
                 ClipDecision *ret) {
        bool protected = clip_owner_protected(p, owner);
        bool within = p->allow_within_app && clip_same_app(owner, requestor);

        *ret = (ClipDecision) { .verdict = CLIP_SERVE, .enforce = !p->audit };
        if (p->detect_individual_number && n_numbers > 0 && !(protected && within)) {
                ret->verdict = CLIP_REFUSE_NUMBER;
                ret->reason = p->audit ? "audit: would block: individual number" : "individual number";
                return;
        }
        if (protected && !within && !session_policy_app_allowed(p, requestor->class_name) && !p->default_allow) {
                ret->verdict = CLIP_REFUSE_PROTECTED;
                ret->reason = p->audit ? "audit: would block: protected application" : "protected application";
        }
}
