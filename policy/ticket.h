/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* mnguard-policy ticket: issues a signed exception ticket (agent/exception.h has the format). */
int verb_ticket(int argc, char **argv);
