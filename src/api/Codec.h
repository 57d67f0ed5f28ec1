#pragma once
// status views <-> D-Bus a{sv} dictionaries, field by field through each view's
// visitFields() (status/StatusSnapshot.h): string s, bool b, uint32 u, int32 i, uint64 t,
// int64 x, list of strings as, list of uint64 at, nested view a{sv}, list of views aa{sv}. An
// absent optional is left out of the dictionary. Decoding skips keys it does not know (a newer
// vigild) and leaves fields that are missing at their defaults (an older one); a key with another
// type than expected is an error naming the key. For src/api only (includes sd-bus).

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <systemd/sd-bus.h>

#include "util/Utf8.h"

namespace vigil::api::codec {

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};

template <class T>
constexpr const char* signature() {
  if constexpr (std::is_same_v<T, std::string>)
    return "s";
  else if constexpr (std::is_same_v<T, bool>)
    return "b";
  else if constexpr (std::is_same_v<T, std::uint32_t>)
    return "u";
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return "i";
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    return "t";
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return "x";
  else if constexpr (std::is_same_v<T, std::vector<std::string>>)
    return "as";
  else if constexpr (std::is_same_v<T, std::vector<std::uint64_t>>)
    return "at";
  else if constexpr (IsVector<T>::value)
    return "aa{sv}";
  else
    return "a{sv}";
}

template <class T>
int appendDict(sd_bus_message* m, const T& view);

// Appends a string; text from outside vigil (a probe's output, a library's error) that is
// not valid UTF-8 or holds a NUL goes with U+FFFD in place of the bad bytes, as sd-bus
// refuses such a string (-EINVAL), which would fail the whole reply.
inline int appendString(sd_bus_message* m, const std::string& s) {
  if (util::isValidUtf8NoNul(s)) return sd_bus_message_append_basic(m, 's', s.c_str());
  return sd_bus_message_append_basic(m, 's', util::toValidUtf8NoNul(s).c_str());
}

// Appends the value of a field (not wrapped in a variant).
template <class T>
int appendValue(sd_bus_message* m, const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return appendString(m, v);
  } else if constexpr (std::is_same_v<T, bool>) {
    const int b = v ? 1 : 0;
    return sd_bus_message_append_basic(m, 'b', &b);
  } else if constexpr (std::is_arithmetic_v<T>) {
    return sd_bus_message_append_basic(m, signature<T>()[0], &v);
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    int r = sd_bus_message_open_container(m, 'a', "s");
    for (const auto& s : v) {
      if (r < 0) return r;
      r = appendString(m, s);
    }
    return r < 0 ? r : sd_bus_message_close_container(m);
  } else if constexpr (std::is_same_v<T, std::vector<std::uint64_t>>) {
    return sd_bus_message_append_array(m, 't', v.data(), v.size() * sizeof(std::uint64_t));
  } else if constexpr (IsVector<T>::value) {
    int r = sd_bus_message_open_container(m, 'a', "a{sv}");
    for (const auto& e : v) {
      if (r < 0) return r;
      r = appendDict(m, e);
    }
    return r < 0 ? r : sd_bus_message_close_container(m);
  } else {
    return appendDict(m, v);
  }
}

// Appends `view` as a{sv}.
template <class T>
int appendDict(sd_bus_message* m, const T& view) {
  int r = sd_bus_message_open_container(m, 'a', "{sv}");
  T::visitFields(view, [&](const char* key, const auto& field) {
    using F = std::decay_t<decltype(field)>;
    if (r < 0) return;
    const auto entry = [&](const auto& value) {
      using V = std::decay_t<decltype(value)>;
      r = sd_bus_message_open_container(m, 'e', "sv");
      if (r >= 0) r = sd_bus_message_append_basic(m, 's', key);
      if (r >= 0) r = sd_bus_message_open_container(m, 'v', signature<V>());
      if (r >= 0) r = appendValue(m, value);
      if (r >= 0) r = sd_bus_message_close_container(m);
      if (r >= 0) r = sd_bus_message_close_container(m);
    };
    if constexpr (IsOptional<F>::value) {
      if (field) entry(*field);
    } else {
      entry(field);
    }
  });
  return r < 0 ? r : sd_bus_message_close_container(m);
}

// Appends a list of views as aa{sv}.
template <class T>
int appendList(sd_bus_message* m, const std::vector<T>& views) {
  return appendValue(m, views);
}

template <class T>
int readDict(sd_bus_message* m, T& view, std::string& error);

template <class T>
int readValue(sd_bus_message* m, T& v, std::string& error) {
  if constexpr (std::is_same_v<T, std::string>) {
    const char* s = nullptr;
    int r = sd_bus_message_read_basic(m, 's', &s);
    if (r > 0) v = s;
    return r;
  } else if constexpr (std::is_same_v<T, bool>) {
    int b = 0;
    int r = sd_bus_message_read_basic(m, 'b', &b);
    v = b != 0;
    return r;
  } else if constexpr (std::is_arithmetic_v<T>) {
    return sd_bus_message_read_basic(m, signature<T>()[0], &v);
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    int r = sd_bus_message_enter_container(m, 'a', "s");
    if (r <= 0) return r;
    const char* s = nullptr;
    while ((r = sd_bus_message_read_basic(m, 's', &s)) > 0) v.emplace_back(s);
    if (r < 0) return r;
    return sd_bus_message_exit_container(m);
  } else if constexpr (std::is_same_v<T, std::vector<std::uint64_t>>) {
    const void* data = nullptr;
    std::size_t size = 0;
    int r = sd_bus_message_read_array(m, 't', &data, &size);
    if (r < 0) return r;
    const auto* first = static_cast<const std::uint64_t*>(data);
    v.assign(first, first + size / sizeof(std::uint64_t));
    return 1;
  } else if constexpr (IsVector<T>::value) {
    int r = sd_bus_message_enter_container(m, 'a', "a{sv}");
    if (r <= 0) return r;
    for (;;) {
      r = sd_bus_message_at_end(m, false);
      if (r < 0) return r;
      if (r > 0) break;
      typename T::value_type e;
      r = readDict(m, e, error);
      if (r < 0) return r;
      v.push_back(std::move(e));
    }
    return sd_bus_message_exit_container(m);
  } else {
    return readDict(m, v, error);
  }
}

// Reads an a{sv} into `view`. Returns < 0 on a malformed message or a key of the wrong
// type (then `error` names it).
template <class T>
int readDict(sd_bus_message* m, T& view, std::string& error) {
  int r = sd_bus_message_enter_container(m, 'a', "{sv}");
  if (r < 0) {
    error = "expected a dictionary a{sv}";
    return r;
  }
  for (;;) {
    r = sd_bus_message_enter_container(m, 'e', "sv");
    if (r < 0) return r;
    if (r == 0) break;
    const char* key_c = nullptr;
    r = sd_bus_message_read_basic(m, 's', &key_c);
    if (r < 0) return r;
    const std::string key = key_c;
    const char* contents = nullptr;
    r = sd_bus_message_peek_type(m, nullptr, &contents);
    if (r < 0) return r;
    bool known = false;
    T::visitFields(view, [&](const char* name, auto& field) {
      if (known || r < 0 || key != name) return;
      known = true;
      using F = std::decay_t<decltype(field)>;
      using V = typename std::conditional_t<IsOptional<F>::value, F, std::optional<F>>::value_type;
      if (!contents || std::string(contents) != signature<V>()) {
        error = "field '" + key + "' has type " + (contents ? contents : "?") + ", expected " +
                signature<V>();
        r = -EBADMSG;
        return;
      }
      r = sd_bus_message_enter_container(m, 'v', contents);
      if (r < 0) return;
      V value{};
      r = readValue(m, value, error);
      if (r < 0) return;
      field = std::move(value);
      r = sd_bus_message_exit_container(m);
    });
    if (r < 0) return r;
    if (!known) {
      r = sd_bus_message_skip(m, "v");
      if (r < 0) return r;
    }
    r = sd_bus_message_exit_container(m);
    if (r < 0) return r;
  }
  return sd_bus_message_exit_container(m);
}

template <class T>
int readList(sd_bus_message* m, std::vector<T>& views, std::string& error) {
  return readValue(m, views, error);
}

}  // namespace vigil::api::codec
