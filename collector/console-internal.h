/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Internal to the console's files (console.c, console-auth.c, api-console*.c). */

#include <pthread.h>

#include "console.h"

#define CONSOLE_NAME_MAX 63

typedef struct ConsoleFile {
        char name[CONSOLE_NAME_MAX + 1];
        const char *type;
        char *data;
        size_t len;
} ConsoleFile;

/* Failed logins from one address in the current window. */
typedef struct LoginThrottle {
        char remote[ACCESS_REMOTE_MAX];
        uint64_t window_start_usec;
        unsigned failures;
} LoginThrottle;

struct Console {
        Storage *storage;
        ConsoleFile files[CONSOLE_FILES_MAX];
        size_t n_files;

        pthread_mutex_t lock;           /* the throttle table, the verification slots, the dummy hash */
        pthread_cond_t cond;
        unsigned verifying;             /* argon2id verifications running (at most CONSOLE_PWHASH_PARALLEL) */
        LoginThrottle throttle[CONSOLE_IP_SLOTS];
        char dummy_hash[OPERATOR_PWHASH_MAX];   /* verified against for unknown names: same cost, same answer */
        bool dummy_ready;
};

const ConsoleFile *console_file(Console *con, const char *name);
/* The hash verified against for unknown names (made once). */
int console_dummy_hash(Console *con, char out[static OPERATOR_PWHASH_MAX]);
