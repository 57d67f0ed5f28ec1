#pragma once
// A hardened YAML reader for configuration files.
//
// yaml-cpp 0.7 as measured: it accepts duplicate keys silently; `&x [*x]` builds cyclic node
// graphs; aliases are shared nodes, so a "billion laughs" document loads instantly and then
// explodes any naive walk; memory grows ~200x the file size; YAML::DeepRecursion is thrown
// at a nesting depth of 500. So vigil never builds YAML::Node trees from untrusted text:
// parseYaml() drives YAML::Parser with its own EventHandler and builds a plain tree of
// YamlNode values, enforcing a node budget and a depth cap while parsing (it stops at the
// first node over either limit) and bounding how far the scanner may read ahead,
// rejecting anchors, aliases, duplicate keys, non-scalar keys and tags, and requiring
// NUL-free UTF-8 input and exactly one document.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/ConfigError.h"

namespace vigil::config {

struct YamlEntry;

struct YamlNode {
  enum class Kind {
    Null,      // "~", "null", an empty value (plain scalars only; quoted "null" is a Scalar)
    Scalar,    // any other scalar; `value` is its text, quoted or not
    Sequence,  // `items`
    Mapping,   // `entries`, in document order, keys unique Scalars
    Invalid,   // a node already reported as an error (alias, bad tag, NUL): ignore silently
  };
  Kind kind = Kind::Null;
  std::string value;
  int line = 1;    // 1-based position of the node's first character
  int column = 1;  // 1-based, counted in bytes
  std::vector<YamlNode> items;
  // A vector of an incomplete type is allowed (C++17 [vector.overview]); a std::pair of
  // YamlNode here would need YamlNode complete, which clang rejects.
  std::vector<YamlEntry> entries;

  // The value of `key` in a Mapping, or nullptr.
  const YamlNode* find(std::string_view key) const;
};

// One key: value pair of a Mapping.
struct YamlEntry {
  YamlNode key;
  YamlNode value;
};

struct YamlLimits {
  std::size_t max_bytes = 1 << 20;
  std::size_t max_nodes = 100000;  // every scalar, key, collection and alias counts
  std::size_t max_depth = 64;      // nested collections
  // How far yaml-cpp may read past the last node it reported (see GuardedBuffer in
  // YamlNode.cpp): bounds the parser's memory on pathological input. Legitimate files only
  // come near it with a single scalar or comment block this long.
  std::size_t max_lookahead = 128 << 10;
};

// Parses exactly one YAML document from `text` (an empty text or a document of only
// comments yields a Null node). Every problem is appended to `errors` as
// "file:line:col: key.path: message". Returns nullopt when the text cannot be used at all
// (too large, NUL bytes or invalid UTF-8, a syntax error, more than one document, over the
// node budget, depth cap or lookahead bound). Otherwise returns the tree, in which problems that
// were reported but do not prevent further validation are neutralised: the first of duplicate keys
// is kept, anchored nodes are kept, aliases and badly tagged nodes become Invalid.
std::optional<YamlNode> parseYaml(std::string_view text,
                                  const std::string& file,
                                  const YamlLimits& limits,
                                  ConfigErrors& errors);

// Key paths as shown in errors: "trees.web.children[0].limits". A key that is not made of
// ASCII letters, digits, '_' and '-' is shown double-quoted: trees."a b", trees."web.v2".
std::string appendKeyPath(std::string_view base, std::string_view key);
std::string appendIndexPath(std::string_view base, std::size_t index);

// A value quoted for messages: 'text', with control characters escaped (\n, \t, \xNN) and
// anything beyond 60 bytes elided as "...".
std::string quoteForMessage(std::string_view text);

}  // namespace vigil::config
