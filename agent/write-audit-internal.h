/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared by write-audit.c (media, records, events), write-audit-fanotify.c (groups, marks, reading
 * and resolving events) and write-audit-hash.c (the hashing thread). Not a public interface. */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc-info.h"
#include "write-audit.h"

#define SHA256_LEN 32

typedef enum RecordType {
        RECORD_WRITTEN,
        RECORD_DELETED,
        RECORD_RENAMED,
        RECORD_OVERFLOW,
} RecordType;

typedef enum HashState {
        HASH_NONE,     /* not a written file */
        HASH_PENDING,  /* with the thread */
        HASH_DONE,
        HASH_SKIPPED,  /* larger than the cap */
        HASH_FAILED,
} HashState;

/* The thread's part of a record: written by the thread between queueing and completion only. */
typedef struct HashJob {
        int fd;
        uint64_t max_size;
        uint64_t bytes;
        uint8_t digest[SHA256_LEN];
        int error;       /* negative errno */
        bool too_big;    /* grew past the cap while being read */
} HashJob;

typedef struct Record {
        RecordType type;
        MnWriteAuditMedium *medium;
        char *path, *name;         /* on the medium; path NULL when the directory was not resolved */
        char *old_path, *old_name; /* renames */
        bool is_dir;
        pid_t pid;
        char *exe;                 /* NULL when the process was gone */
        bool has_uid, has_size, has_file_uid;
        uid_t uid, file_uid;
        uint64_t size;
        HashState hash;
        int hash_error;
        uint8_t digest[SHA256_LEN];
        HashJob job;
        bool ready;
} Record;

typedef struct HashWorker {
        pthread_t thread;
        bool running;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        Record *todo[MN_WRITE_AUDIT_MAX_OPEN_FILES];
        size_t todo_head, todo_n;
        Record *done[MN_WRITE_AUDIT_MAX_OPEN_FILES];
        size_t done_head, done_n;
        bool stop;
        int efd;                   /* eventfd: the thread has finished jobs */
} HashWorker;

struct MnWriteAuditMedium {
        MnWriteAudit *audit;
        char *mount_point;
        dev_t fs_dev;              /* st_dev of its files */
        dev_t devnum;
        char *devnode, *rule;
        json_object *device;       /* the medium's device fields for events, or NULL */
        int fid_fd;                /* FID group: filesystem mark, or (FUSE) inode marks on directories */
        int fd_fd;                 /* FUSE: fd-mode group with a mount mark for close-writes; else -1 */
        sd_event_source *fid_source, *fd_source;
        bool fuse;
        bool rename_event;         /* FAN_RENAME; else FAN_MOVED_FROM/TO pairs */
        Record *moved_from;        /* a FAN_MOVED_FROM waiting for its FAN_MOVED_TO */
        size_t n_dirs;
        MnWriteAuditSummary summary;
        size_t n_pending;          /* its records not yet emitted */
        bool removing, drained, finished;
        MnWriteAuditDone done;
        void *done_userdata;
        /* One directory resolved: a burst into one directory asks the kernel once. */
        unsigned char cached_handle[128 + 8];
        size_t cached_handle_len;
        char *cached_dir;
};

struct MnWriteAudit {
        sd_event *event;
        MnWriteAuditOptions o;
        MnWriteAuditMedium *media[MN_WRITE_AUDIT_MAX_MEDIA];
        size_t n_media;
        Record *fifo[MN_WRITE_AUDIT_MAX_PENDING];
        size_t fifo_head, fifo_n;
        size_t open_files;
        bool reading_paused;
        HashWorker worker;
        sd_event_source *worker_source;
        MnProcCache procs;
        MnWriteAuditStats stats;
        bool unlimited_queue_ok;   /* FAN_UNLIMITED_QUEUE allowed (learnt at the first group) */
        bool unlimited_queue_tried;
};

/* write-audit.c */
Record *wa_record_new(MnWriteAuditMedium *m, RecordType type);
/* Puts r at the end of the queue (ready or not); the queue has room (the reader checks first). */
void wa_record_queue(MnWriteAudit *a, Record *r);
void wa_record_set_process(MnWriteAudit *a, Record *r, pid_t pid);
/* Hands a written file's fd to the thread (takes it) or records why not. */
void wa_record_hash(MnWriteAudit *a, Record *r, int fd);
/* Emits what is ready at the head of the queue, finishes removed media, resumes reading. */
void wa_flush(MnWriteAudit *a);

/* write-audit-fanotify.c */
int wa_medium_open(MnWriteAudit *a, MnWriteAuditMedium *m);
void wa_medium_close(MnWriteAuditMedium *m);
/* Reads and queues what the medium's groups hold, as far as there is room. Returns 0 when the groups
 * are empty (-EAGAIN from the kernel), 1 when it stopped for lack of room, or a negative errno. */
int wa_medium_read(MnWriteAudit *a, MnWriteAuditMedium *m);
void wa_medium_set_reading(MnWriteAuditMedium *m, bool on);
/* Bytes that can be read now with room for every record they may make; 0: reading must pause. */
size_t wa_read_size(const MnWriteAudit *a);

/* write-audit-hash.c */
int wa_worker_start(HashWorker *w);
void wa_worker_stop(HashWorker *w);
/* Queues r (r->job filled in); there is room (open files are bounded by the caller). */
void wa_worker_submit(HashWorker *w, Record *r);
/* Takes finished records, at most max; returns how many. */
size_t wa_worker_collect(HashWorker *w, Record **ret, size_t max);
