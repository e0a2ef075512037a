/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "yaml-tree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "macro.h"

const char *ytree_type_name(YNodeType t) {
        switch (t) {
        case YNODE_SCALAR: return "a scalar";
        case YNODE_SEQUENCE: return "a list";
        case YNODE_MAPPING: return "a mapping";
        }
        return "?";
}

YNode *ytree_free(YNode *n) {
        if (!n)
                return NULL;
        for (size_t i = 0; i < n->n_items; i++)
                ytree_free(n->items[i]);
        free(n->items);
        free(n->value);
        free(n);
        return NULL;
}

_printf_(4, 5) static int set_error(YTreeError *err, const yaml_mark_t *mark, int r, const char *fmt, ...) {
        va_list ap;
        err->line = (unsigned) mark->line + 1;
        err->column = (unsigned) mark->column + 1;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        return r;
}

static YNode *node_new(YNodeType type, const yaml_mark_t *mark) {
        YNode *n = calloc(1, sizeof(YNode));
        if (!n)
                return NULL;
        n->type = type;
        n->line = (unsigned) mark->line + 1;
        n->column = (unsigned) mark->column + 1;
        return n;
}

static int node_append(YNode *parent, YNode *child, size_t *cap) {
        if (parent->n_items == *cap) {
                size_t ncap = *cap ? *cap * 2 : 4;
                YNode **v = realloc(parent->items, ncap * sizeof(YNode *));
                if (!v)
                        return -ENOMEM;
                parent->items = v;
                *cap = ncap;
        }
        parent->items[parent->n_items++] = child;
        return 0;
}

typedef struct Frame {
        YNode *node;
        size_t cap;
} Frame;

typedef struct Builder {
        yaml_parser_t parser;
        unsigned max_depth;
        size_t max_scalar;
        YTreeError *err;
} Builder;

static int next_event(Builder *b, yaml_event_t *ev) {
        if (!yaml_parser_parse(&b->parser, ev)) {
                yaml_mark_t mark = b->parser.problem_mark;
                if (b->parser.error == YAML_MEMORY_ERROR)
                        return -ENOMEM;
                return set_error(b->err, &mark, -EINVAL, "invalid YAML: %s%s%s",
                                 b->parser.problem ?: "syntax error",
                                 b->parser.context ? " " : "", b->parser.context ?: "");
        }
        return 0;
}

/* Parses one node whose first event is ev (consumed here) into *ret. Recursion depth is bounded
 * by max_depth. */
static int parse_node(Builder *b, yaml_event_t *ev, unsigned depth, YNode **ret) {
        int r;

        switch (ev->type) {
        case YAML_ALIAS_EVENT:
                return set_error(b->err, &ev->start_mark, -EINVAL,
                                 "YAML aliases are not allowed in a policy (write the value out)");
        case YAML_SCALAR_EVENT:
                if (ev->data.scalar.anchor)
                        return set_error(b->err, &ev->start_mark, -EINVAL,
                                         "YAML anchors are not allowed in a policy");
                if (ev->data.scalar.tag)
                        return set_error(b->err, &ev->start_mark, -EINVAL,
                                         "YAML tags are not allowed in a policy");
                if (ev->data.scalar.length > b->max_scalar)
                        return set_error(b->err, &ev->start_mark, -EINVAL,
                                         "value is %zu bytes long, at most %zu are allowed",
                                         ev->data.scalar.length, b->max_scalar);
                if (memchr(ev->data.scalar.value, 0, ev->data.scalar.length))
                        return set_error(b->err, &ev->start_mark, -EINVAL, "value contains a NUL character");
                {
                        YNode *n = node_new(YNODE_SCALAR, &ev->start_mark);
                        if (!n)
                                return -ENOMEM;
                        n->value = strndup((const char *) ev->data.scalar.value, ev->data.scalar.length);
                        if (!n->value) {
                                free(n);
                                return -ENOMEM;
                        }
                        n->length = ev->data.scalar.length;
                        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                        *ret = n;
                }
                return 0;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
                bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
                const yaml_char_t *anchor = seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
                const yaml_char_t *tag = seq ? ev->data.sequence_start.tag : ev->data.mapping_start.tag;
                yaml_event_type_t end = seq ? YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT;

                if (anchor)
                        return set_error(b->err, &ev->start_mark, -EINVAL, "YAML anchors are not allowed in a policy");
                if (tag)
                        return set_error(b->err, &ev->start_mark, -EINVAL, "YAML tags are not allowed in a policy");
                if (depth >= b->max_depth)
                        return set_error(b->err, &ev->start_mark, -EINVAL,
                                         "nesting deeper than %u levels", b->max_depth);

                Frame f = { .node = node_new(seq ? YNODE_SEQUENCE : YNODE_MAPPING, &ev->start_mark) };
                if (!f.node)
                        return -ENOMEM;
                for (;;) {
                        yaml_event_t child;
                        r = next_event(b, &child);
                        if (r < 0)
                                break;
                        if (child.type == end) {
                                yaml_event_delete(&child);
                                *ret = f.node;
                                return 0;
                        }
                        if (!seq && f.node->n_items % 2 == 0 && child.type != YAML_SCALAR_EVENT) {
                                r = set_error(b->err, &child.start_mark, -EINVAL,
                                              "mapping keys must be plain words");
                                yaml_event_delete(&child);
                                break;
                        }
                        YNode *c = NULL;
                        r = parse_node(b, &child, depth + 1, &c);
                        yaml_event_delete(&child);
                        if (r < 0)
                                break;
                        r = node_append(f.node, c, &f.cap);
                        if (r < 0) {
                                ytree_free(c);
                                break;
                        }
                }
                ytree_free(f.node);
                return r;
        }
        default:
                return set_error(b->err, &ev->start_mark, -EINVAL, "unexpected YAML structure");
        }
}

int ytree_parse(const char *data, size_t size, unsigned max_depth, size_t max_scalar, YNode **ret_root,
                YTreeError *err) {
        Builder b = { .max_depth = max_depth, .max_scalar = max_scalar, .err = err };
        YNode *root = NULL;
        yaml_event_t ev;
        int r;

        if (!yaml_parser_initialize(&b.parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&b.parser, (const unsigned char *) data, size);
        yaml_parser_set_encoding(&b.parser, YAML_UTF8_ENCODING);

        /* STREAM-START, then DOCUMENT-START or STREAM-END */
        r = next_event(&b, &ev);
        if (r < 0)
                goto finish;
        yaml_event_delete(&ev);

        r = next_event(&b, &ev);
        if (r < 0)
                goto finish;
        if (ev.type == YAML_STREAM_END_EVENT) {
                yaml_event_delete(&ev);
                goto finish; /* empty stream */
        }
        if (ev.type == YAML_DOCUMENT_START_EVENT && ev.data.document_start.version_directive) {
                r = set_error(err, &ev.start_mark, -EINVAL, "YAML directives are not allowed in a policy");
                yaml_event_delete(&ev);
                goto finish;
        }
        if (ev.type == YAML_DOCUMENT_START_EVENT && ev.data.document_start.tag_directives.start !=
                                                            ev.data.document_start.tag_directives.end) {
                r = set_error(err, &ev.start_mark, -EINVAL, "YAML directives are not allowed in a policy");
                yaml_event_delete(&ev);
                goto finish;
        }
        yaml_event_delete(&ev);

        r = next_event(&b, &ev);
        if (r < 0)
                goto finish;
        r = parse_node(&b, &ev, 0, &root);
        yaml_event_delete(&ev);
        if (r < 0)
                goto finish;

        /* DOCUMENT-END, then STREAM-END: a second document is refused. */
        r = next_event(&b, &ev);
        if (r < 0)
                goto finish;
        yaml_event_delete(&ev);
        r = next_event(&b, &ev);
        if (r < 0)
                goto finish;
        if (ev.type != YAML_STREAM_END_EVENT)
                r = set_error(err, &ev.start_mark, -EINVAL, "a policy file holds exactly one YAML document");
        yaml_event_delete(&ev);

finish:
        yaml_parser_delete(&b.parser);
        if (r < 0) {
                ytree_free(root);
                return r;
        }
        *ret_root = root;
        return 0;
}
