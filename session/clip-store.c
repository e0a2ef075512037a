/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "clip-store.h"

#include <stdlib.h>

ClipStore *clip_store_new(Atom selection, const XAppInfo *owner) {
        ClipStore *s = calloc(1, sizeof(ClipStore));
        if (!s)
                return NULL;
        s->ref = 1;
        s->selection = selection;
        s->owner = *owner;
        return s;
}

ClipStore *clip_store_ref(ClipStore *s) {
        if (s)
                s->ref++;
        return s;
}

ClipStore *clip_store_unref(ClipStore *s) {
        if (!s || --s->ref > 0)
                return NULL;
        for (size_t i = 0; i < s->n_held; i++)
                if (s->held[i].data)
                        free(s->held[i].data);
        free(s);
        return NULL;
}

bool clip_store_offers(const ClipStore *s, Atom target) {
        for (size_t i = 0; i < s->n_offered; i++)
                if (s->offered[i] == target)
                        return true;
        return false;
}

const ClipTarget *clip_store_find(const ClipStore *s, Atom target) {
        for (size_t i = 0; i < s->n_held; i++)
                if (s->held[i].target == target)
                        return &s->held[i];
        return NULL;
}
