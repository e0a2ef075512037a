/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The sysfs "descriptors" parser: well-formed devices, configuration selection, alternate settings,
 * and hostile input (bad lengths, truncation, too many of everything, random mutations). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "usb-descriptors.h"

#define BLOB_MAX (MN_USB_DESCRIPTORS_MAX + 64)
#define FUZZ_ROUNDS 20000

typedef struct Blob {
        uint8_t b[BLOB_MAX];
        size_t n;
        size_t config_start; /* where the configuration being built starts */
} Blob;

static void put(Blob *x, const uint8_t *d, size_t n) {
        assert_true(x->n + n <= sizeof(x->b));
        memcpy(x->b + x->n, d, n);
        x->n += n;
}

static void device_descriptor(Blob *x, uint8_t cls, uint8_t n_configs) {
        const uint8_t d[18] = { 18, 0x01, 0x00, 0x02, cls, 0, 0, 64, 0x81, 0x07, 0x81, 0x55, 0x00, 0x01, 1, 2, 3, n_configs };
        *x = (Blob) {};
        put(x, d, sizeof(d));
}

static void config_begin(Blob *x, uint8_t value, uint8_t n_interfaces) {
        const uint8_t c[9] = { 9, 0x02, 0, 0, n_interfaces, value, 0, 0x80, 50 };
        x->config_start = x->n;
        put(x, c, sizeof(c));
}

static void interface(Blob *x, uint8_t number, uint8_t alt, uint8_t cls, uint8_t sub, uint8_t proto) {
        const uint8_t i[9] = { 9, 0x04, number, alt, 2, cls, sub, proto, 0 };
        const uint8_t ep[7] = { 7, 0x05, 0x81, 0x02, 0x00, 0x02, 0 }; /* an endpoint, to be skipped */
        put(x, i, sizeof(i));
        put(x, ep, sizeof(ep));
}

static void config_end(Blob *x) {
        size_t total = x->n - x->config_start;
        x->b[x->config_start + 2] = (uint8_t) (total & 0xff);
        x->b[x->config_start + 3] = (uint8_t) (total >> 8);
}

static void badusb(Blob *x) {
        device_descriptor(x, 0, 1);
        config_begin(x, 1, 2);
        interface(x, 0, 0, 0x08, 0x06, 0x50);
        interface(x, 1, 0, 0x03, 0x01, 0x01);
        config_end(x);
}

static void test_composite(void **state) {
        MnUsbDescriptors d;
        Blob x;

        badusb(&x);
        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 0, &d), 0);
        assert_false(d.truncated);
        assert_int_equal(d.vendor, 0x0781);
        assert_int_equal(d.product, 0x5581);
        assert_int_equal(d.device_class, 0);
        assert_int_equal(d.n_configs, 1);
        assert_int_equal(d.n_interfaces, 2);
        assert_int_equal(d.interfaces[0].config, 1);
        assert_int_equal(d.interfaces[0].number, 0);
        assert_int_equal(d.interfaces[0].cls, 0x08);
        assert_int_equal(d.interfaces[0].subclass, 0x06);
        assert_int_equal(d.interfaces[0].protocol, 0x50);
        assert_int_equal(d.interfaces[1].number, 1);
        assert_int_equal(d.interfaces[1].cls, 0x03);
        assert_int_equal(d.interfaces[1].protocol, 0x01);

        /* The configuration in use selects; one nobody has falls back to all. */
        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 1, &d), 0);
        assert_int_equal(d.n_interfaces, 2);
        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 7, &d), 0);
        assert_int_equal(d.n_interfaces, 2);
}

static void test_configurations_and_alternates(void **state) {
        MnUsbDescriptors d;
        Blob x;

        /* Configuration 1 is a keyboard; configuration 2 is a stick. Unconfigured: both count. */
        device_descriptor(&x, 0, 2);
        config_begin(&x, 1, 1);
        interface(&x, 0, 0, 0x03, 0x01, 0x01);
        interface(&x, 0, 1, 0x08, 0x06, 0x50); /* an alternate setting: the first one counts */
        config_end(&x);
        config_begin(&x, 2, 1);
        interface(&x, 0, 0, 0x08, 0x06, 0x50);
        config_end(&x);

        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 0, &d), 0);
        assert_false(d.truncated);
        assert_int_equal(d.n_configs, 2);
        assert_int_equal(d.n_interfaces, 2);
        assert_int_equal(d.interfaces[0].config, 1);
        assert_int_equal(d.interfaces[0].cls, 0x03);
        assert_int_equal(d.interfaces[1].config, 2);
        assert_int_equal(d.interfaces[1].cls, 0x08);

        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 2, &d), 0);
        assert_int_equal(d.n_configs, 1);
        assert_int_equal(d.n_interfaces, 1);
        assert_int_equal(d.interfaces[0].cls, 0x08);
}

static void test_bad_device_descriptor(void **state) {
        MnUsbDescriptors d;
        Blob x;

        badusb(&x);
        assert_int_equal(mn_usb_descriptors_parse(NULL, 0, 0, &d), -EBADMSG);
        assert_int_equal(mn_usb_descriptors_parse(x.b, 17, 0, &d), -EBADMSG);
        x.b[0] = 17;
        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 0, &d), -EBADMSG);
        x.b[0] = 18;
        x.b[1] = 0x02;
        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 0, &d), -EBADMSG);

        /* A device descriptor alone: valid, no configuration. */
        badusb(&x);
        assert_int_equal(mn_usb_descriptors_parse(x.b, 18, 0, &d), 0);
        assert_int_equal(d.n_interfaces, 0);
        assert_false(d.truncated);
}

static void test_bad_lengths(void **state) {
        MnUsbDescriptors d;
        Blob x;

        /* wTotalLength past the end: what is there is parsed, and the result says it is cut short. */
        badusb(&x);
        x.b[18 + 2] = 0xff;
        x.b[18 + 3] = 0xff;
        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 0, &d), 0);
        assert_true(d.truncated);
        assert_int_equal(d.n_interfaces, 2);

        /* wTotalLength shorter than the configuration descriptor. */
        badusb(&x);
        x.b[18 + 2] = 4;
        x.b[18 + 3] = 0;
        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 0, &d), 0);
        assert_true(d.truncated);
        assert_int_equal(d.n_interfaces, 0);

        /* A zero-length descriptor inside: no endless loop, flagged. */
        badusb(&x);
        x.b[18 + 9 + 9] = 0; /* the first endpoint */
        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 0, &d), 0);
        assert_true(d.truncated);
        assert_int_equal(d.n_interfaces, 1);

        /* A descriptor longer than what is left of its configuration. */
        badusb(&x);
        x.b[x.n - 7] = 200;
        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 0, &d), 0);
        assert_true(d.truncated);

        /* An interface descriptor too short to hold its class. */
        badusb(&x);
        x.b[18 + 9] = 5;
        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 0, &d), 0);
        assert_true(d.truncated);

        /* Garbage after the configurations. */
        badusb(&x);
        put(&x, (const uint8_t[]) { 3, 0x77, 0 }, 3);
        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 0, &d), 0);
        assert_true(d.truncated);
        assert_int_equal(d.n_interfaces, 2);

        /* More than the kernel serves. */
        badusb(&x);
        assert_int_equal(mn_usb_descriptors_parse(x.b, MN_USB_DESCRIPTORS_MAX + 1, 0, &d), 0);
        assert_true(d.truncated);
}

static void test_too_many(void **state) {
        MnUsbDescriptors d;
        Blob x;

        /* Nine configurations: the ninth is not looked at. */
        device_descriptor(&x, 0, 9);
        for (uint8_t c = 1; c <= 9; c++) {
                config_begin(&x, c, 1);
                interface(&x, 0, 0, 0x08, 0x06, 0x50);
                config_end(&x);
        }
        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 0, &d), 0);
        assert_true(d.truncated);
        assert_int_equal(d.n_configs, MN_USB_DESC_MAX_CONFIGS);
        assert_int_equal(d.n_interfaces, MN_USB_DESC_MAX_CONFIGS);

        /* Three configurations of 32 interfaces: 64 kept, flagged. */
        device_descriptor(&x, 0, 3);
        for (uint8_t c = 1; c <= 3; c++) {
                config_begin(&x, c, 32);
                for (uint8_t i = 0; i < 32; i++)
                        interface(&x, i, 0, 0x03, 0, 0);
                config_end(&x);
        }
        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 0, &d), 0);
        assert_true(d.truncated);
        assert_int_equal(d.n_interfaces, MN_USB_DESC_MAX_INTERFACES);
        /* The one in use alone fits. */
        assert_int_equal(mn_usb_descriptors_parse(x.b, x.n, 3, &d), 0);
        assert_false(d.truncated);
        assert_int_equal(d.n_interfaces, 32);
}

/* Random mutations of a valid device: the parser never reads outside the buffer (ASan watches) and
 * never reports more than it can hold. Deterministic: a fixed LCG seed. */
static void test_mutations(void **state) {
        uint32_t seed = 0x6d6e6775;
        Blob base, x;

        device_descriptor(&base, 0, 2);
        for (uint8_t c = 1; c <= 2; c++) {
                config_begin(&base, c, 3);
                interface(&base, 0, 0, 0x08, 0x06, 0x50);
                interface(&base, 1, 0, 0x03, 0x01, 0x01);
                interface(&base, 1, 1, 0xff, 0xff, 0x00);
                config_end(&base);
        }

        for (int round = 0; round < FUZZ_ROUNDS; round++) {
                MnUsbDescriptors d;
                memcpy(x.b, base.b, base.n);
                x.n = base.n;
                int flips = 1 + round % 8;
                for (int k = 0; k < flips; k++) {
                        seed = seed * 1103515245u + 12345u;
                        size_t at = (seed >> 8) % x.n;
                        seed = seed * 1103515245u + 12345u;
                        x.b[at] = (uint8_t) (seed >> 16);
                }
                seed = seed * 1103515245u + 12345u;
                size_t n = (round & 1) ? x.n : (seed >> 8) % (x.n + 1);

                /* A copy of exactly n bytes on the heap, so that ASan sees any read past it. */
                uint8_t *copy = test_malloc(n ? n : 1);
                memcpy(copy, x.b, n);
                int r = mn_usb_descriptors_parse(copy, n, (uint8_t) (round % 3), &d);
                test_free(copy);
                assert_true(r == 0 || r == -EBADMSG);
                if (r == 0) {
                        assert_true(d.n_interfaces <= MN_USB_DESC_MAX_INTERFACES);
                        assert_true(d.n_configs <= MN_USB_DESC_MAX_CONFIGS);
                }
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_composite),
                cmocka_unit_test(test_configurations_and_alternates),
                cmocka_unit_test(test_bad_device_descriptor),
                cmocka_unit_test(test_bad_lengths),
                cmocka_unit_test(test_too_many),
                cmocka_unit_test(test_mutations),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
