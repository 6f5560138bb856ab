// The duty room's files (web/ and the Leaflet files from Debian's libjs-leaflet and
// libjs-leaflet.markercluster), compiled into the binary by cmake/EmbedFiles.cmake; web/README.md
// says why they are embedded rather than read from disk.
#pragma once

#include <span>
#include <string_view>

namespace ewarn::app {

struct WebAsset {
  std::string_view path;          // URL path, e.g. "/js/app.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

// Every embedded file; paths are unique. Immutable.
std::span<const WebAsset> WebAssets();

}  // namespace ewarn::app
