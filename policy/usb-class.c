/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "usb-class.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static const char *const names[_USB_CLASS_MAX] = {
        [USB_CLASS_OTHER] = "other",
        [USB_CLASS_AUDIO] = "audio",
        [USB_CLASS_NETWORK] = "network",
        [USB_CLASS_HID] = "hid",
        [USB_CLASS_PHYSICAL] = "physical",
        [USB_CLASS_STILL_IMAGE] = "still-image",
        [USB_CLASS_PRINTER] = "printer",
        [USB_CLASS_STORAGE] = "storage",
        [USB_CLASS_HUB] = "hub",
        [USB_CLASS_SMART_CARD] = "smart-card",
        [USB_CLASS_CONTENT_SECURITY] = "content-security",
        [USB_CLASS_VIDEO] = "video",
        [USB_CLASS_HEALTHCARE] = "healthcare",
        [USB_CLASS_AUDIO_VIDEO] = "audio-video",
        [USB_CLASS_BILLBOARD] = "billboard",
        [USB_CLASS_TYPE_C_BRIDGE] = "type-c-bridge",
        [USB_CLASS_DIAGNOSTIC] = "diagnostic",
        [USB_CLASS_WIRELESS] = "wireless",
        [USB_CLASS_MISC] = "misc",
        [USB_CLASS_APPLICATION] = "application",
        [USB_CLASS_VENDOR] = "vendor",
};

const char *usb_class_to_string(UsbClass c) {
        return (unsigned) c < _USB_CLASS_MAX ? names[c] : "other";
}

int usb_class_from_string(const char *s) {
        for (int i = 0; i < _USB_CLASS_MAX; i++)
                if (strcmp(names[i], s) == 0)
                        return i;
        return -EINVAL;
}

static bool is_mtp_name(const char *s) {
        /* Android and most media players name the interface "MTP" (sometimes "mtp", "MTP Device"). */
        return s && strncasecmp(s, "MTP", 3) == 0 && (s[3] == 0 || s[3] == ' ');
}

UsbClass usb_class_classify(uint8_t cls, uint8_t subclass, uint8_t protocol, const char *interface_name,
                            bool mtp_hint) {
        switch (cls) {
        case 0x01: return USB_CLASS_AUDIO;
        case 0x02: return USB_CLASS_NETWORK; /* CDC control: ECM, NCM, MBIM, ACM modems, RNDIS (02/02/ff) */
        case 0x03: return USB_CLASS_HID;
        case 0x05: return USB_CLASS_PHYSICAL;
        case 0x06: return USB_CLASS_STILL_IMAGE; /* PTP; MTP-over-PTP */
        case 0x07: return USB_CLASS_PRINTER;
        case 0x08: return USB_CLASS_STORAGE;
        case 0x09: return USB_CLASS_HUB;
        case 0x0a: return USB_CLASS_NETWORK; /* CDC data */
        case 0x0b: return USB_CLASS_SMART_CARD;
        case 0x0d: return USB_CLASS_CONTENT_SECURITY;
        case 0x0e: return USB_CLASS_VIDEO;
        case 0x0f: return USB_CLASS_HEALTHCARE;
        case 0x10: return USB_CLASS_AUDIO_VIDEO;
        case 0x11: return USB_CLASS_BILLBOARD;
        case 0x12: return USB_CLASS_TYPE_C_BRIDGE;
        case 0xdc: return USB_CLASS_DIAGNOSTIC;
        case 0xe0:
                if (subclass == 0x01 && protocol == 0x03)
                        return USB_CLASS_NETWORK; /* RNDIS */
                return USB_CLASS_WIRELESS;
        case 0xef:
                if (subclass == 0x04 && protocol == 0x01)
                        return USB_CLASS_NETWORK; /* RNDIS over Ethernet (Microsoft OS descriptor) */
                return USB_CLASS_MISC;
        case 0xfe: return USB_CLASS_APPLICATION;
        case 0xff:
                if (is_mtp_name(interface_name) || (mtp_hint && subclass == 0xff))
                        return USB_CLASS_STILL_IMAGE;
                return USB_CLASS_VENDOR;
        default: return USB_CLASS_OTHER;
        }
}

bool usb_interface_is_keyboard(uint8_t cls, uint8_t subclass, uint8_t protocol) {
        return cls == 0x03 && protocol == 0x01;
}

bool usb_interface_is_mouse(uint8_t cls, uint8_t subclass, uint8_t protocol) {
        return cls == 0x03 && protocol == 0x02;
}
