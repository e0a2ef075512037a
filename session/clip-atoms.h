/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <X11/Xlib.h>
#include <stdbool.h>

#include "individual-number.h"

typedef struct ClipAtoms {
        Atom clipboard, targets, timestamp, multiple, incr, atom_pair, utf8_string, text, compound_text;
        Atom text_plain_utf8, text_plain, text_html, delete_, insert_selection, insert_property, save_targets;
} ClipAtoms;

void clip_atoms_init(Display *dpy, ClipAtoms *a);

/* Targets that name a conversion with side effects or meta-information: never read from an owner. */
bool clip_atoms_special(const ClipAtoms *a, Atom target);

/* Text targets in the order the guard prefers them; *ret_rank is the position (lower is better). */
bool clip_atoms_text(const ClipAtoms *a, Atom target, int *ret_rank);

/* How text of a property type is scanned for individual numbers. */
MnTextEncoding clip_atoms_encoding(const ClipAtoms *a, Atom type);
