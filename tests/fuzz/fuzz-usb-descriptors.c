/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: a USB device's raw "descriptors" sysfs attribute (agent/usb-descriptors.c), which
 * the device itself wrote, then each interface found classified as the agent classifies it
 * (agent/device.c add_interfaces_from_descriptors: policy/usb-class.c). The first byte is the active
 * configuration (sysfs bConfigurationValue, 0 for none), the rest the attribute.
 * Invariants: the parser stays within its bounds, reports the device descriptor's ids, lists each
 * (configuration, interface) once, and with an active configuration that exists lists only its
 * interfaces; the same bytes parsed twice give the same answer. */
#include <errno.h>
#include <string.h>

#include "fuzz-util.h"
#include "usb-class.h"
#include "usb-descriptors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether some configuration descriptor in buf (as the parser walks them) has bConfigurationValue v. */
static bool config_exists(const MnUsbDescriptors *d, uint8_t v) {
        for (size_t i = 0; i < d->n_interfaces; i++)
                if (d->interfaces[i].config == v)
                        return true;
        return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        MnUsbDescriptors d, again, all;

        if (size == 0)
                return 0;
        uint8_t config = data[0];
        const uint8_t *buf = data + 1;
        size_t n = size - 1;

        int r = mn_usb_descriptors_parse(buf, n, config, &d);
        if (r < 0) {
                FUZZ_CHECK(r == -EBADMSG);
                FUZZ_CHECK(n < 18 || buf[0] != 18 || buf[1] != 1);
                return 0;
        }
        FUZZ_CHECK(n >= 18);
        FUZZ_CHECK(d.vendor == (uint16_t) (buf[8] | buf[9] << 8) && d.product == (uint16_t) (buf[10] | buf[11] << 8));
        FUZZ_CHECK(d.device_class == buf[4]);
        FUZZ_CHECK(d.n_configs <= MN_USB_DESC_MAX_CONFIGS);
        FUZZ_CHECK(d.n_interfaces <= MN_USB_DESC_MAX_INTERFACES);
        for (size_t i = 0; i < d.n_interfaces; i++)
                for (size_t j = i + 1; j < d.n_interfaces; j++)
                        FUZZ_CHECK(d.interfaces[i].config != d.interfaces[j].config ||
                                   d.interfaces[i].number != d.interfaces[j].number);

        FUZZ_CHECK(mn_usb_descriptors_parse(buf, n, config, &again) == 0);
        FUZZ_CHECK(memcmp(&d, &again, sizeof(d)) == 0);

        /* Every configuration: a superset of the interfaces of one (when nothing was cut for room). */
        FUZZ_CHECK(mn_usb_descriptors_parse(buf, n, 0, &all) == 0);
        FUZZ_CHECK(all.n_configs >= d.n_configs);
        if (config != 0 && config_exists(&all, config))
                for (size_t i = 0; i < d.n_interfaces; i++)
                        FUZZ_CHECK(d.interfaces[i].config == config);
        if (!all.truncated && all.n_interfaces < MN_USB_DESC_MAX_INTERFACES)
                for (size_t i = 0; i < d.n_interfaces; i++) {
                        bool found = false;
                        for (size_t j = 0; j < all.n_interfaces && !found; j++)
                                found = memcmp(&all.interfaces[j], &d.interfaces[i], sizeof(MnUsbDescInterface)) == 0;
                        FUZZ_CHECK(found);
                }

        for (size_t i = 0; i < d.n_interfaces; i++) {
                const MnUsbDescInterface *x = &d.interfaces[i];
                for (int mtp = 0; mtp < 2; mtp++) {
                        UsbClass c = usb_class_classify(x->cls, x->subclass, x->protocol, NULL, mtp);
                        FUZZ_CHECK((int) c >= 0 && c < _USB_CLASS_MAX);
                        FUZZ_CHECK(usb_class_to_string(c) != NULL);
                }
                (void) usb_interface_is_keyboard(x->cls, x->subclass, x->protocol);
                (void) usb_interface_is_mouse(x->cls, x->subclass, x->protocol);
        }
        return 0;
}
