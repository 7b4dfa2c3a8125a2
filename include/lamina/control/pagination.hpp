#pragma once
// Marker pagination, as every Lambda List* operation pages: an opaque
// NextMarker names the last item returned; the next call resumes after it.

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lamina/common/error.hpp"

namespace lamina::control {

struct Page {
    std::optional<std::string> marker;
    int max_items = 50;
};

// A marker is base64 of the list's tag and the last position returned: a
// marker from one list ("functions", "layers", ...) is refused by another.
std::string make_marker(const std::string& tag, const std::string& position);
// The position in `marker`, or InvalidParameterValue "Invalid Marker: ...".
Result<std::string> read_marker(const std::string& tag, const std::string& marker);

template <typename T>
using PageOf = std::pair<std::vector<T>, std::optional<std::string>>;

// One page of `items` (already sorted by `key`, a string position): the
// items after the marker's position, at most max_items (at least 1) of them,
// and the marker of the next page when more remain.
template <typename T, typename KeyFn>
Result<PageOf<T>> paginate(std::vector<T> items, const Page& page, const std::string& tag,
                           KeyFn key) {
    std::size_t start = 0;
    if (page.marker) {
        LAMINA_TRY(pos, read_marker(tag, *page.marker));
        start = items.size();
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (key(items[i]) > pos) {
                start = i;
                break;
            }
        }
    }
    std::size_t n = static_cast<std::size_t>(std::max(1, page.max_items));
    std::vector<T> out;
    std::optional<std::string> next;
    for (std::size_t i = start; i < items.size(); ++i) {
        if (out.size() == n) {
            next = make_marker(tag, key(out.back()));
            break;
        }
        out.push_back(std::move(items[i]));
    }
    return std::make_pair(std::move(out), std::move(next));
}

}  // namespace lamina::control
