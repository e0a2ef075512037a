/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "clip-atoms.h"

#include <X11/Xatom.h>

#include "macro.h"

void clip_atoms_init(Display *dpy, ClipAtoms *a) {
        static const char *names[] = {
                "CLIPBOARD", "TARGETS", "TIMESTAMP", "MULTIPLE", "INCR", "ATOM_PAIR", "UTF8_STRING", "TEXT",
                "COMPOUND_TEXT", "text/plain;charset=utf-8", "text/plain", "text/html", "DELETE",
                "INSERT_SELECTION", "INSERT_PROPERTY", "SAVE_TARGETS",
        };
        Atom v[ELEMENTSOF(names)];
        XInternAtoms(dpy, (char **) names, (int) ELEMENTSOF(names), False, v);
        *a = (ClipAtoms) {
                .clipboard = v[0], .targets = v[1], .timestamp = v[2], .multiple = v[3], .incr = v[4],
                .atom_pair = v[5], .utf8_string = v[6], .text = v[7], .compound_text = v[8],
                .text_plain_utf8 = v[9], .text_plain = v[10], .text_html = v[11], .delete_ = v[12],
                .insert_selection = v[13], .insert_property = v[14], .save_targets = v[15],
        };
}

bool clip_atoms_special(const ClipAtoms *a, Atom target) {
        return target == None || target == a->targets || target == a->timestamp || target == a->multiple ||
               target == a->delete_ || target == a->insert_selection || target == a->insert_property ||
               target == a->save_targets || target == a->incr;
}

bool clip_atoms_text(const ClipAtoms *a, Atom target, int *ret_rank) {
        const Atom order[] = { a->utf8_string, a->text_plain_utf8, XA_STRING, a->text, a->text_plain,
                               a->text_html, a->compound_text };
        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                if (target == order[i]) {
                        *ret_rank = (int) i;
                        return true;
                }
        return false;
}

MnTextEncoding clip_atoms_encoding(const ClipAtoms *a, Atom type) {
        return type == XA_STRING || type == a->compound_text ? MN_TEXT_LATIN1 : MN_TEXT_UTF8;
}
