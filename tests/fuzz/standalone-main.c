/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Runs a libFuzzer target over files and directories without libFuzzer (gcc builds, ctest): every
 * seed and every regression case found by fuzzing is replayed on every test run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path, unsigned *count) {
        char *data = NULL;
        size_t size;
        int r = read_full_file(path, 16 * 1024 * 1024, &data, &size);
        if (r < 0) {
                fprintf(stderr, "%s: cannot read (%d)\n", path, r);
                return 1;
        }
        LLVMFuzzerTestOneInput((const uint8_t *) data, size);
        free(data);
        (*count)++;
        return 0;
}

int main(int argc, char **argv) {
        unsigned count = 0;
        int ret = 0;
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: not found\n", argv[i]);
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        ret |= run_file(argv[i], &count);
                        continue;
                }
                DIR *d = opendir(argv[i]);
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        char *p = NULL;
                        if (asprintf(&p, "%s/%s", argv[i], de->d_name) < 0)
                                return 1;
                        ret |= run_file(p, &count);
                        free(p);
                }
                if (d)
                        closedir(d);
        }
        printf("%u inputs run\n", count);
        return ret || count == 0;
}
