#pragma once
// Symbols of the kernel that plugins and programs use are visible; everything a plugin
// defines is hidden unless it says otherwise.
#define NARROW_API __attribute__((visibility("default")))
