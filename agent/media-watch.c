/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "media-watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "block-enforce.h"
#include "device-json.h"
#include "event-sink.h"
#include "event.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "mount-guard.h"
#include "write-audit.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

#define ACCESS_NONE (-1) /* nothing applied yet */

typedef struct Medium {
        char *syspath;
        dev_t disks[MEDIA_WATCH_MAX_DISKS];
        char *disk_nodes[MEDIA_WATCH_MAX_DISKS];
        size_t n_disks;
        int access;      /* MediaAccess applied, or ACCESS_NONE */
        bool set_ro;     /* we set the read-only flag */
        bool guarded;    /* the disks are blocked in the mount guard */
        char *rule;
        /* Its identity for mount and file events (vendor, product, serial …), as compact JSON text: ~250
         * bytes where the json-c object took ~1 KiB, for each storage device present (coldplug of 500
         * sticks: ~0.4 MiB of the daemon's heap). Parsed again for the rare event that needs it. */
        char *device_json;
        MnWriteAuditSummary summary; /* of every mount of it audited so far */
} Medium;

struct MediaWatch {
        Manager *m;
        MnMountGuard *guard;
        MnWriteAudit *audit;
        Medium **media;
        size_t n_media;
};

static void medium_free(Medium *md) {
        if (!md)
                return;
        free(md->syspath);
        for (size_t i = 0; i < md->n_disks; i++)
                free(md->disk_nodes[i]);
        free(md->rule);
        free(md->device_json);
        free(md);
}

static Medium *find_by_syspath(MediaWatch *w, const char *syspath, size_t *ret_idx) {
        for (size_t i = 0; i < w->n_media; i++)
                if (streq(w->media[i]->syspath, syspath)) {
                        if (ret_idx)
                                *ret_idx = i;
                        return w->media[i];
                }
        return NULL;
}

static Medium *find_by_devnum(MediaWatch *w, dev_t devnum) {
        dev_t whole = devnum;
        if (mn_block_whole_disk(devnum, &whole) < 0)
                whole = devnum;
        for (size_t i = 0; i < w->n_media; i++)
                for (size_t k = 0; k < w->media[i]->n_disks; k++)
                        if (w->media[i]->disks[k] == whole || w->media[i]->disks[k] == devnum)
                                return w->media[i];
        return NULL;
}

/* The medium's device fields as a new object; NULL when it has none (the events go without them). */
static json_object *medium_device(const Medium *md) {
        return md->device_json ? json_tokener_parse(md->device_json) : NULL;
}

static void emit(json_object *ev, uid_t uid, void *userdata) {
        MediaWatch *w = userdata;
        manager_log(w->m, ev, uid, NULL);
}

/* ---- write audit of read-write media while mounted ---- */

static void on_mounted(const MnMountInfo *mi, void *userdata) {
        MediaWatch *w = userdata;
        Medium *md = mi->source_devnum ? find_by_devnum(w, mi->source_devnum) : NULL;
        if (!md || md->access != MEDIA_READ_WRITE)
                return;
        _cleanup_(json_object_putp) json_object *device = medium_device(md);
        MnWriteAuditMediumInfo info = { .mount_point = mi->target, .devnum = mi->source_devnum,
                                        .devnode = mi->source, .rule = md->rule, .device = device };
        MnWriteAuditMedium *am;
        int r = mn_write_audit_add(w->audit, &info, &am);
        if (r < 0 && r != -EEXIST) {
                log_warning_errno(r, "Cannot audit writes to %s, ignoring: %m", mi->target);
                return;
        }
        if (r == -EEXIST)
                return;
        /* On record: an allowed medium is mounted here, and from now on every file written is recorded. */
        json_object *ev = mn_event_new("media-mounted", MN_OUTCOME_SUCCESS, NULL);
        json_object *dev = mn_event_section(ev, "device"), *mnt = mn_event_section(ev, "mount");
        json_object *mg = mn_event_section(ev, "mnguard");
        mn_event_set_untrusted(dev, "devnode", mi->source);
        mn_event_set_int(dev, "major", major(mi->source_devnum));
        mn_event_set_int(dev, "minor", minor(mi->source_devnum));
        (void) mn_event_add_fields(dev, device);
        mn_event_set_untrusted(mnt, "point", mi->target);
        mn_event_set_untrusted(mnt, "fs_type", mi->fstype);
        mn_event_set_string(mg, "rule", md->rule);
        json_object_object_add(mg, "write_audit", json_object_new_boolean(true));
        manager_log(w->m, ev, (uid_t) -1, NULL);
}

typedef struct DoneCtx {
        MediaWatch *w;
        char *syspath;
} DoneCtx;

static void on_audit_done(const MnWriteAuditSummary *s, void *userdata) {
        DoneCtx *c = userdata;
        Medium *md = find_by_syspath(c->w, c->syspath, NULL);
        if (md) {
                md->summary.files_written += s->files_written;
                md->summary.bytes_written += s->bytes_written;
                md->summary.files_deleted += s->files_deleted;
                md->summary.files_renamed += s->files_renamed;
                md->summary.hash_skipped += s->hash_skipped;
                md->summary.hash_failed += s->hash_failed;
                md->summary.overflows += s->overflows;
        }
        free(c->syspath);
        free(c);
}

static void on_unmounted(const MnMountInfo *mi, void *userdata) {
        MediaWatch *w = userdata;
        MnWriteAuditMedium *am = mn_write_audit_find(w->audit, mi->devnum);
        if (!am)
                return;
        Medium *md = mi->source_devnum ? find_by_devnum(w, mi->source_devnum) : NULL;
        DoneCtx *c = md ? calloc(1, sizeof(DoneCtx)) : NULL;
        if (c) {
                c->w = w;
                c->syspath = strdup(md->syspath);
        }
        (void) mn_write_audit_remove(w->audit, am, c ? on_audit_done : NULL, c);
}

/* ---- applying decisions ---- */

/* What mount and file events say about the physical device a medium is on (device-json.h's event
 * fields without its classes): the same vendor, product and serial as its device-* records, so that
 * `mnguardctl events --device SERIAL` finds them too, and its syspath. As JSON text. */
static char *medium_device_fields(const MnDevice *d) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        if (!o || mn_device_event_fields(o, d) < 0)
                return NULL;
        json_object_object_del(o, "classes");
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        return s ? strdup(s) : NULL;
}

/* The whole disks of a device, from its block device nodes (real block devices only: in a umockdev
 * testbed they are plain files). */
static void collect_disks(const MnDevice *d, Medium *md) {
        for (size_t i = 0; i < d->n_fs && md->n_disks < MEDIA_WATCH_MAX_DISKS; i++) {
                struct stat st;
                if (!d->fs[i].devnode || stat(d->fs[i].devnode, &st) < 0 || !S_ISBLK(st.st_mode))
                        continue;
                dev_t whole = st.st_rdev;
                if (mn_block_whole_disk(st.st_rdev, &whole) < 0)
                        whole = st.st_rdev;
                bool known = false;
                for (size_t k = 0; k < md->n_disks; k++)
                        known |= md->disks[k] == whole;
                if (known || whole != st.st_rdev)
                        continue; /* a partition: its disk is listed too */
                md->disks[md->n_disks] = whole;
                md->disk_nodes[md->n_disks] = strdup(d->fs[i].devnode);
                md->n_disks++;
        }
}

static int storage_access(const PolicyDecision *dec, UsbClassMask classes) {
        if (dec->verdict == VERDICT_BLOCK || (dec->blocked & USB_CLASS_BIT(USB_CLASS_STORAGE)) ||
            !(classes & USB_CLASS_BIT(USB_CLASS_STORAGE)))
                return MEDIA_BLOCK;
        return dec->storage;
}

void media_watch_apply(MediaWatch *w, const MnDevice *d, const PolicyDecision *dec) {
        if (!(d->classes & USB_CLASS_BIT(USB_CLASS_STORAGE)) || dec->audit)
                return;
        Medium *md = find_by_syspath(w, d->syspath, NULL);
        if (!md) {
                if (w->n_media >= MEDIA_WATCH_MAX_DEVICES)
                        return;
                md = calloc(1, sizeof(Medium));
                Medium **v = realloc(w->media, (w->n_media + 1) * sizeof(Medium *));
                if (!md || !v || !(md->syspath = strdup(d->syspath))) {
                        medium_free(md);
                        if (v)
                                w->media = v;
                        return;
                }
                w->media = v;
                w->media[w->n_media++] = md;
                md->access = ACCESS_NONE;
                md->device_json = medium_device_fields(d); /* NULL: the events go without them */
        }
        /* The disks may have appeared since the last decision (a USB stick's disk follows its interface). */
        size_t before = md->n_disks;
        if (md->n_disks < MEDIA_WATCH_MAX_DISKS) {
                Medium tmp = { .n_disks = 0 };
                collect_disks(d, &tmp);
                for (size_t i = 0; i < tmp.n_disks; i++) {
                        bool known = false;
                        for (size_t k = 0; k < md->n_disks; k++)
                                known |= md->disks[k] == tmp.disks[i];
                        if (!known && md->n_disks < MEDIA_WATCH_MAX_DISKS) {
                                md->disks[md->n_disks] = tmp.disks[i];
                                md->disk_nodes[md->n_disks++] = TAKE_PTR(tmp.disk_nodes[i]);
                        }
                        free(tmp.disk_nodes[i]);
                }
        }
        int access = storage_access(dec, d->classes);
        if (access == md->access && md->n_disks == before)
                return;
        md->access = access;
        free(md->rule);
        md->rule = dec->rule ? strdup(dec->rule) : NULL;

        for (size_t k = 0; k < md->n_disks; k++) {
                MnBlockRoResult res;
                bool ro = access != MEDIA_READ_WRITE;
                if (ro || md->set_ro) {
                        int r = mn_block_set_read_only(md->disk_nodes[k], ro, &res);
                        if (r < 0)
                                log_warning_errno(r, "Cannot set %s %s: %m", md->disk_nodes[k], ro ? "read-only" : "writable");
                        else
                                md->set_ro = ro;
                }
                if (!w->guard)
                        continue;
                if (access == MEDIA_BLOCK) {
                        _cleanup_(json_object_putp) json_object *device = medium_device(md);
                        int r = mn_mount_guard_block_device(w->guard, md->disks[k], md->rule, device);
                        if (r < 0)
                                log_warning_errno(r, "Cannot guard mounts of %s: %m", md->disk_nodes[k]);
                } else
                        (void) mn_mount_guard_unblock_device(w->guard, md->disks[k]);
        }
        md->guarded = access == MEDIA_BLOCK;
}

void media_watch_device_removed(MediaWatch *w, const MnDevice *d, json_object *ev) {
        size_t idx;
        Medium *md = find_by_syspath(w, d->syspath, &idx);
        if (!md)
                return;
        for (size_t k = 0; w->guard && k < md->n_disks; k++)
                (void) mn_mount_guard_unblock_device(w->guard, md->disks[k]); /* the numbers get reused */
        if (md->access == MEDIA_READ_WRITE && ev)
                mn_write_audit_summary_to_json(&md->summary, ev);
        medium_free(md);
        memmove(w->media + idx, w->media + idx + 1, (w->n_media - idx - 1) * sizeof(Medium *));
        w->n_media--;
}

int media_watch_new(Manager *m, MediaWatch **ret) {
        MediaWatch *w = calloc(1, sizeof(MediaWatch));
        if (!w)
                return -ENOMEM;
        w->m = m;
        MnWriteAuditOptions ao = { .sink = { .emit = emit, .userdata = w } };
        int r = mn_write_audit_new(m->event, &ao, &w->audit);
        if (r < 0) {
                media_watch_free(w);
                return r;
        }
        MnMountGuardOptions go = { .sink = { .emit = emit, .userdata = w }, .mounted = on_mounted,
                                   .unmounted = on_unmounted, .userdata = w };
        r = mn_mount_guard_new(m->event, &go, &w->guard);
        if (r < 0) {
                media_watch_free(w);
                return r;
        }
        *ret = w;
        return 0;
}

int media_watch_start(MediaWatch *w) {
        return mn_mount_guard_start(w->guard);
}

MediaWatch *media_watch_free(MediaWatch *w) {
        if (!w)
                return NULL;
        /* the guard first: the hashing thread may wait on one of its permission events */
        mn_mount_guard_free(w->guard);
        mn_write_audit_free(w->audit);
        for (size_t i = 0; i < w->n_media; i++)
                medium_free(w->media[i]);
        free(w->media);
        free(w);
        return NULL;
}
