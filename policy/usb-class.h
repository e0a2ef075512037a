/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Functions a USB interface can provide, as the policy names them. Classified from the interface's
 * class/subclass/protocol triple and, for vendor-specific interfaces, what the device says it is
 * (MTP). */
typedef enum UsbClass {
        USB_CLASS_OTHER,
        USB_CLASS_AUDIO,
        USB_CLASS_NETWORK,     /* CDC (02, 0a), RNDIS (e0/01/03, ef/04/01): tethering */
        USB_CLASS_HID,
        USB_CLASS_PHYSICAL,
        USB_CLASS_STILL_IMAGE, /* PTP (06) and MTP */
        USB_CLASS_PRINTER,
        USB_CLASS_STORAGE,
        USB_CLASS_HUB,
        USB_CLASS_SMART_CARD,
        USB_CLASS_CONTENT_SECURITY,
        USB_CLASS_VIDEO,
        USB_CLASS_HEALTHCARE,
        USB_CLASS_AUDIO_VIDEO,
        USB_CLASS_BILLBOARD,
        USB_CLASS_TYPE_C_BRIDGE,
        USB_CLASS_DIAGNOSTIC,
        USB_CLASS_WIRELESS,    /* e0 other than RNDIS: Bluetooth, wireless USB */
        USB_CLASS_MISC,
        USB_CLASS_APPLICATION,
        USB_CLASS_VENDOR,
        _USB_CLASS_MAX,
} UsbClass;

typedef uint32_t UsbClassMask;
#define USB_CLASS_BIT(c) ((UsbClassMask) 1u << (c))

/* Fail-closed default for defaults.usb-classes-blocked. */
#define USB_CLASSES_BLOCKED_DEFAULT                                                                  \
        (USB_CLASS_BIT(USB_CLASS_STORAGE) | USB_CLASS_BIT(USB_CLASS_STILL_IMAGE) |                   \
         USB_CLASS_BIT(USB_CLASS_NETWORK) | USB_CLASS_BIT(USB_CLASS_WIRELESS))

const char *usb_class_to_string(UsbClass c);
int usb_class_from_string(const char *s); /* -EINVAL when unknown */

/* interface_name is the interface's string descriptor (sysfs "interface"), may be NULL;
 * mtp_hint is true when udev marked the device as an MTP device (ID_MTP_DEVICE / ID_MEDIA_PLAYER). */
UsbClass usb_class_classify(uint8_t cls, uint8_t subclass, uint8_t protocol, const char *interface_name,
                            bool mtp_hint);

/* HID boot protocol keyboard/mouse, for the lockout guard. */
bool usb_interface_is_keyboard(uint8_t cls, uint8_t subclass, uint8_t protocol);
bool usb_interface_is_mouse(uint8_t cls, uint8_t subclass, uint8_t protocol);
