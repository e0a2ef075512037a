/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Parser for the sysfs "descriptors" attribute of a USB device (see usb-descriptors.h). */
#include "usb-descriptors.h"

#include <errno.h>
#include <string.h>

#define USB_DT_DEVICE           0x01
#define USB_DT_CONFIG           0x02
#define USB_DT_INTERFACE        0x04
#define USB_DT_DEVICE_SIZE      18
#define USB_DT_CONFIG_SIZE      9
#define USB_DT_INTERFACE_SIZE   9

static uint16_t le16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static bool has_interface(const MnUsbDescriptors *d, uint8_t config, uint8_t number) {
        for (size_t i = 0; i < d->n_interfaces; i++)
                if (d->interfaces[i].config == config && d->interfaces[i].number == number)
                        return true;
        return false;
}

/* The interface descriptors inside one configuration: buf[0..n) is the whole configuration (its
 * wTotalLength, already bounded by the file). */
static void parse_config(const uint8_t *buf, size_t n, MnUsbDescriptors *d) {
        uint8_t value = buf[5];
        size_t off = buf[0];

        while (off < n) {
                size_t left = n - off;
                uint8_t len = buf[off];

                /* A zero or one byte descriptor would never advance; one longer than the rest lies. */
                if (left < 2 || len < 2 || len > left) {
                        d->truncated = true;
                        return;
                }
                if (buf[off + 1] == USB_DT_INTERFACE) {
                        if (len < USB_DT_INTERFACE_SIZE) {
                                d->truncated = true;
                                return;
                        }
                        /* Alternate settings repeat the interface number: keep the first. */
                        if (!has_interface(d, value, buf[off + 2])) {
                                if (d->n_interfaces >= MN_USB_DESC_MAX_INTERFACES) {
                                        d->truncated = true;
                                        return;
                                }
                                d->interfaces[d->n_interfaces++] = (MnUsbDescInterface) {
                                        .config = value,
                                        .number = buf[off + 2],
                                        .cls = buf[off + 5],
                                        .subclass = buf[off + 6],
                                        .protocol = buf[off + 7],
                                };
                        }
                }
                off += len;
        }
}

typedef struct ConfigSpan {
        size_t off, len;
        uint8_t value;
} ConfigSpan;

int mn_usb_descriptors_parse(const uint8_t *buf, size_t n, uint8_t config_value, MnUsbDescriptors *ret) {
        ConfigSpan spans[MN_USB_DESC_MAX_CONFIGS];
        size_t n_spans = 0, off;
        bool truncated = false, selected = false;

        if (!buf || n < USB_DT_DEVICE_SIZE || buf[0] != USB_DT_DEVICE_SIZE || buf[1] != USB_DT_DEVICE)
                return -EBADMSG;
        if (n > MN_USB_DESCRIPTORS_MAX) {
                n = MN_USB_DESCRIPTORS_MAX;
                truncated = true;
        }

        /* First the configurations' extents, so that a config_value nobody has falls back to all. */
        off = USB_DT_DEVICE_SIZE;
        while (off < n) {
                size_t left = n - off, total;

                if (n_spans >= MN_USB_DESC_MAX_CONFIGS || left < USB_DT_CONFIG_SIZE ||
                    buf[off] < USB_DT_CONFIG_SIZE || buf[off] > left || buf[off + 1] != USB_DT_CONFIG) {
                        truncated = true;
                        break;
                }
                total = le16(buf + off + 2);
                if (total < buf[off]) {
                        truncated = true;
                        break;
                }
                if (total > left) {
                        /* Cut short: parse what is there, and say so. */
                        total = left;
                        truncated = true;
                }
                spans[n_spans++] = (ConfigSpan) { .off = off, .len = total, .value = buf[off + 5] };
                off += total;
        }

        for (size_t i = 0; config_value != 0 && i < n_spans; i++)
                if (spans[i].value == config_value)
                        selected = true;

        *ret = (MnUsbDescriptors) {
                .vendor = le16(buf + 8),
                .product = le16(buf + 10),
                .device_class = buf[4],
                .truncated = truncated,
        };
        for (size_t i = 0; i < n_spans; i++) {
                if (selected && spans[i].value != config_value)
                        continue;
                parse_config(buf + spans[i].off, spans[i].len, ret);
                ret->n_configs++;
        }
        return 0;
}
