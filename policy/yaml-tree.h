/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* A small, bounded YAML document tree built from libyaml's event parser, with the position of every
 * node. Anchors, aliases, tags, multiple documents and complex keys are refused: a policy is plain data
 * and an alias bomb must not get past the parser. Internal to the policy library. */

#include <stdbool.h>
#include <stddef.h>

typedef enum YNodeType {
        YNODE_SCALAR,
        YNODE_SEQUENCE,
        YNODE_MAPPING,
} YNodeType;

typedef struct YNode YNode;
struct YNode {
        YNodeType type;
        unsigned line, column; /* 1-based */
        /* scalar */
        char *value;
        size_t length;
        bool plain; /* unquoted: subject to YAML's implicit typing (numbers, booleans, null) */
        /* sequence: items[i]; mapping: items[2i] is a key (always a scalar), items[2i+1] its value */
        YNode **items;
        size_t n_items;
};

typedef struct YTreeError {
        unsigned line, column;
        char message[256];
} YTreeError;

/* Builds the tree of a single-document stream. max_depth bounds nesting, max_scalar the bytes of
 * one scalar. Returns 0 with *ret_root (NULL for an empty document), -EINVAL with *err filled, or
 * -ENOMEM. */
int ytree_parse(const char *data, size_t size, unsigned max_depth, size_t max_scalar, YNode **ret_root,
                YTreeError *err);

YNode *ytree_free(YNode *n);

static inline size_t ytree_map_size(const YNode *n) {
        return n->n_items / 2;
}

const char *ytree_type_name(YNodeType t);
