#pragma once
// The pages, scripts and styles of portal/web, embedded at build time (portal/embed.cmake).

#include <string_view>

namespace vmlab::portal {

struct Asset {
    std::string_view name;  // file name in portal/web, e.g. "app.js"
    std::string_view content_type;
    std::string_view data;
};

// nullptr when there is no such file.
const Asset* find_asset(std::string_view name);

}  // namespace vmlab::portal
