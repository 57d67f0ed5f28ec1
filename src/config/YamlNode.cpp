#include "config/YamlNode.h"

#include <algorithm>
#include <istream>
#include <map>
#include <streambuf>
#include <unordered_map>

#include <fmt/format.h>
#include <yaml-cpp/anchor.h>
#include <yaml-cpp/depthguard.h>  // YAML::DeepRecursion; yaml.h does not include it
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

namespace vigil::config {

namespace {

constexpr std::size_t kQuoteLimit = 60;

// The tags yaml-cpp reports for untagged nodes ("?" plain, "!" quoted), plus the standard
// tags whose meaning matches what vigil does anyway.
bool acceptableScalarTag(const std::string& tag) {
  return tag == "?" || tag == "!" || tag == "tag:yaml.org,2002:str";
}
bool acceptableCollectionTag(const std::string& tag, bool mapping) {
  return tag == "?" || tag == (mapping ? "tag:yaml.org,2002:map" : "tag:yaml.org,2002:seq");
}
std::string displayTag(const std::string& tag) {
  constexpr std::string_view kStandard = "tag:yaml.org,2002:";
  if (tag.starts_with(kStandard)) return "!!" + tag.substr(kStandard.size());
  return tag;
}

// Thrown from the event handler to stop yaml-cpp's parser at once; the reason has already
// been recorded.
struct StopParsing {};

// Whether the quoted scalar whose opening quote is at text[open] has its closing quote.
// yaml-cpp 0.7 accepts a quoted scalar left open at the end of the file and returns
// everything up to the end as its value, swallowing the keys below it.
// Double quotes: '\' escapes the next character. Single quotes: '' is a quote.
bool quotedScalarClosed(std::string_view text, std::size_t open) {
  const char quote = text[open];
  for (std::size_t i = open + 1; i < text.size(); ++i) {
    if (quote == '"' && text[i] == '\\') {
      ++i;
    } else if (text[i] == quote) {
      if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;
        continue;
      }
      return true;
    }
  }
  return false;
}

// Thrown by GuardedBuffer when yaml-cpp reads too far ahead of the last node it reported.
struct LookaheadExceeded {
  std::size_t stalled_at;  // byte offset of the last reported node
};

// Feeds the text to yaml-cpp in chunks and refuses to feed more than `max_lookahead` bytes
// beyond the last node yaml-cpp reported. yaml-cpp's scanner keeps every token it cannot
// yet resolve (e.g. after an unclosed '[' that might still turn into a mapping key), at
// ~250 bytes of memory per byte of input: 1 MiB of '[' cost ~250 MB. This bounds that to
// a few tens of MB whatever the file holds.
class GuardedBuffer final : public std::streambuf {
 public:
  GuardedBuffer(std::string_view text, std::size_t max_lookahead)
      : text_(text), max_lookahead_(max_lookahead) {}

  void noteNode(const YAML::Mark& mark) {
    if (mark.pos >= 0) last_node_ = std::max(last_node_, static_cast<std::size_t>(mark.pos));
  }

 protected:
  int_type underflow() override {
    if (next_ >= text_.size()) return traits_type::eof();
    if (next_ > last_node_ + max_lookahead_) throw LookaheadExceeded{last_node_};
    char* begin = const_cast<char*>(text_.data()) + next_;
    const std::size_t n = std::min(kChunk, text_.size() - next_);
    setg(begin, begin, begin + n);
    next_ += n;
    return traits_type::to_int_type(*begin);
  }

 private:
  static constexpr std::size_t kChunk = 4096;
  std::string_view text_;
  std::size_t max_lookahead_;
  std::size_t next_ = 0;       // offset of the first byte not yet handed out
  std::size_t last_node_ = 0;  // offset of the last node reported
};

class TreeBuilder final : public YAML::EventHandler {
 public:
  TreeBuilder(const std::string& file,
              std::string_view text,
              const YamlLimits& limits,
              GuardedBuffer& input,
              ConfigErrors& errors)
      : file_(file), text_(text), limits_(limits), input_(input), errors_(errors) {}

  std::optional<YamlNode> takeRoot() { return std::move(root_); }
  int documents() const { return documents_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ > 1) {
      error(mark, "", "a second YAML document ('---') is not allowed; use a single document");
      throw StopParsing{};
    }
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    YamlNode node = start(mark, YamlNode::Kind::Null, anchor);
    attach(std::move(node));
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    YamlNode node = start(mark, YamlNode::Kind::Invalid, YAML::NullAnchor);
    const auto it = anchor_names_.find(anchor);
    const std::string name = it == anchor_names_.end() ? std::string("?") : it->second;
    error(mark, childPath(),
          fmt::format("anchors and aliases are not supported (found alias '*{}'); write the "
                      "value out in full",
                      name));
    attach(std::move(node));
  }

  void OnScalar(const YAML::Mark& mark,
                const std::string& tag,
                YAML::anchor_t anchor,
                const std::string& value) override {
    YamlNode node = start(mark, YamlNode::Kind::Scalar, anchor);
    if (tag == "!" && mark.pos >= 0 && static_cast<std::size_t>(mark.pos) < text_.size()) {
      const auto pos = static_cast<std::size_t>(mark.pos);
      const char quote = text_[pos];
      if ((quote == '"' || quote == '\'') && !quotedScalarClosed(text_, pos)) {
        error(mark, "",
              fmt::format("YAML syntax error: this {}-quoted string is never closed (no "
                          "matching {} before the end of the file)",
                          quote == '"' ? "double" : "single", quote));
        throw StopParsing{};
      }
    }
    if (!acceptableScalarTag(tag)) {
      error(mark, childPath(),
            fmt::format("YAML tags are not supported (found '{}')", displayTag(tag)));
      node.kind = YamlNode::Kind::Invalid;
    } else if (value.find('\0') != std::string::npos) {
      error(mark, childPath(), "the value contains a NUL character");
      node.kind = YamlNode::Kind::Invalid;
    }
    node.value = value;
    attach(std::move(node));
  }

  void OnSequenceStart(const YAML::Mark& mark,
                       const std::string& tag,
                       YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    openCollection(mark, tag, anchor, YamlNode::Kind::Sequence);
  }
  void OnSequenceEnd() override { closeCollection(); }

  void OnMapStart(const YAML::Mark& mark,
                  const std::string& tag,
                  YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    openCollection(mark, tag, anchor, YamlNode::Kind::Mapping);
  }
  void OnMapEnd() override { closeCollection(); }

  void OnAnchor(const YAML::Mark& /*mark*/, const std::string& anchor_name) override {
    pending_anchor_name_ = anchor_name;
  }

 private:
  struct Frame {
    YamlNode node;
    std::string path;
    bool tag_error = false;
    // Mappings only:
    bool expecting_key = true;
    bool drop_value = false;  // the key was rejected; build its value but do not keep it
    YamlNode key;
    std::unordered_map<std::string, std::pair<int, int>> seen;  // key -> line, column
  };

  void error(const YAML::Mark& mark, const std::string& path, std::string message) {
    ConfigError e;
    e.where.file = file_;
    e.where.line = mark.is_null() ? 0 : mark.line + 1;
    e.where.column = mark.is_null() ? 0 : mark.column + 1;
    e.key = path;
    e.message = std::move(message);
    errors_.push_back(std::move(e));
  }

  // The key path of the node about to be attached.
  std::string childPath() const {
    if (stack_.empty()) return "";
    const Frame& top = stack_.back();
    if (top.node.kind == YamlNode::Kind::Sequence) {
      return appendIndexPath(top.path, top.node.items.size());
    }
    if (top.expecting_key) return top.path;
    return appendKeyPath(top.path, top.key.value);
  }

  // Common bookkeeping for every node: the budget, anchors, the position.
  YamlNode start(const YAML::Mark& mark, YamlNode::Kind kind, YAML::anchor_t anchor) {
    input_.noteNode(mark);
    if (++nodes_ > limits_.max_nodes) {
      error(mark, childPath(),
            fmt::format("the document has more than {} nodes, the limit", limits_.max_nodes));
      throw StopParsing{};
    }
    if (anchor != YAML::NullAnchor) {
      anchor_names_[anchor] = pending_anchor_name_;
      error(mark, childPath(),
            fmt::format("anchors and aliases are not supported (found anchor '&{}'); write the "
                        "value out in full",
                        pending_anchor_name_));
    }
    YamlNode node;
    node.kind = kind;
    node.line = mark.line + 1;
    node.column = mark.column + 1;
    return node;
  }

  void openCollection(const YAML::Mark& mark,
                      const std::string& tag,
                      YAML::anchor_t anchor,
                      YamlNode::Kind kind) {
    Frame frame;
    frame.path = childPath();
    frame.node = start(mark, kind, anchor);
    if (stack_.size() + 1 > limits_.max_depth) {
      error(mark, frame.path,
            fmt::format("nesting is deeper than {} levels, the limit", limits_.max_depth));
      throw StopParsing{};
    }
    if (!acceptableCollectionTag(tag, kind == YamlNode::Kind::Mapping)) {
      error(mark, frame.path,
            fmt::format("YAML tags are not supported (found '{}')", displayTag(tag)));
      frame.tag_error = true;
    }
    stack_.push_back(std::move(frame));
  }

  void closeCollection() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    if (frame.tag_error) frame.node.kind = YamlNode::Kind::Invalid;
    attach(std::move(frame.node));
  }

  void attach(YamlNode&& node) {
    if (stack_.empty()) {
      root_ = std::move(node);
      return;
    }
    Frame& top = stack_.back();
    if (top.node.kind == YamlNode::Kind::Sequence) {
      top.node.items.push_back(std::move(node));
      return;
    }
    if (top.expecting_key) {
      top.expecting_key = false;
      top.drop_value = false;
      if (node.kind == YamlNode::Kind::Scalar) {
        const auto [it, inserted] =
            top.seen.try_emplace(node.value, std::make_pair(node.line, node.column));
        if (!inserted) {
          error(
              at(node), appendKeyPath(top.path, node.value),
              fmt::format("duplicate key {}; first defined at {}:{}:{}",
                          quoteForMessage(node.value), file_, it->second.first, it->second.second));
          top.drop_value = true;
        }
      } else {
        if (node.kind == YamlNode::Kind::Null) {
          error(at(node), top.path, "a mapping key is empty");
        } else if (node.kind != YamlNode::Kind::Invalid) {
          error(at(node), top.path,
                fmt::format("mapping keys must be plain strings, found a {}",
                            node.kind == YamlNode::Kind::Mapping ? "mapping" : "sequence"));
        }
        top.drop_value = true;
      }
      top.key = std::move(node);
      return;
    }
    top.expecting_key = true;
    if (!top.drop_value) top.node.entries.push_back(YamlEntry{std::move(top.key), std::move(node)});
    top.key = YamlNode{};
  }

  static YAML::Mark at(const YamlNode& node) {
    YAML::Mark mark;
    mark.line = node.line - 1;
    mark.column = node.column - 1;
    return mark;
  }

  const std::string& file_;
  std::string_view text_;
  const YamlLimits& limits_;
  GuardedBuffer& input_;
  ConfigErrors& errors_;
  std::vector<Frame> stack_;
  std::optional<YamlNode> root_;
  std::size_t nodes_ = 0;
  int documents_ = 0;
  std::string pending_anchor_name_;
  std::map<YAML::anchor_t, std::string> anchor_names_;
};

// Finds the first NUL byte or invalid UTF-8 sequence (overlong forms, surrogates and code
// points above U+10FFFF are invalid). Returns its offset and a description.
std::optional<std::pair<std::size_t, std::string>> findBadByte(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c == 0) return std::make_pair(i, std::string("a NUL byte"));
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;  // overlong
      if (c == 0xed) hi = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;  // overlong
      if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
    }
    bool ok = len != 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) {
      const unsigned char cc = s[i + k];
      ok = k == 1 ? (cc >= lo && cc <= hi) : (cc >= 0x80 && cc <= 0xbf);
    }
    if (!ok) return std::make_pair(i, fmt::format("invalid UTF-8 (byte 0x{:02x})", c));
    i += len;
  }
  return std::nullopt;
}

}  // namespace

const YamlNode* YamlNode::find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k.value == key) return &v;
  }
  return nullptr;
}

std::optional<YamlNode> parseYaml(std::string_view text,
                                  const std::string& file,
                                  const YamlLimits& limits,
                                  ConfigErrors& errors) {
  auto fileError = [&](int line, int column, std::string message) {
    ConfigError e;
    e.where = {file, line, column};
    e.message = std::move(message);
    errors.push_back(std::move(e));
  };

  const auto positionOf = [&](std::size_t offset) {
    int line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    return std::make_pair(line, static_cast<int>(offset - line_start + 1));
  };

  if (text.size() > limits.max_bytes) {
    fileError(
        0, 0,
        fmt::format("the file is {} bytes; the limit is {} bytes", text.size(), limits.max_bytes));
    return std::nullopt;
  }
  if (const auto bad = findBadByte(text)) {
    const auto [line, column] = positionOf(bad->first);
    fileError(
        line, column,
        fmt::format("the file contains {}; configuration files must be UTF-8 text", bad->second));
    return std::nullopt;
  }

  GuardedBuffer buffer(text, limits.max_lookahead);
  TreeBuilder builder(file, text, limits, buffer, errors);
  try {
    std::istream in(&buffer);
    in.exceptions(std::ios::badbit);  // let LookaheadExceeded through istream::read()
    YAML::Parser parser(in);
    // The builder stops at a second document; the loop makes yaml-cpp read that far.
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const StopParsing&) {
    return std::nullopt;
  } catch (const LookaheadExceeded& e) {
    const auto [line, column] = positionOf(e.stalled_at);
    fileError(line, column,
              fmt::format("the YAML parser read more than {} bytes past this point without "
                          "completing a node (unclosed '[' or '{{', or a value or comment that "
                          "long)",
                          limits.max_lookahead));
    return std::nullopt;
  } catch (const YAML::DeepRecursion& e) {
    fileError(e.mark.line + 1, e.mark.column + 1,
              "nesting is too deep for the YAML parser (more than 500 levels)");
    return std::nullopt;
  } catch (const YAML::Exception& e) {
    // ParserException (syntax), DeepRecursion (a ParserException, only if the depth cap
    // is set above yaml-cpp's 500), anything else yaml-cpp throws.
    const bool known = !e.mark.is_null();
    fileError(known ? e.mark.line + 1 : 0, known ? e.mark.column + 1 : 0,
              fmt::format("YAML syntax error: {}", e.msg));
    return std::nullopt;
  }
  if (builder.documents() == 0) return YamlNode{};  // empty, or only comments
  return builder.takeRoot();
}

std::string appendKeyPath(std::string_view base, std::string_view key) {
  bool plain = !key.empty();
  for (const char c : key) {
    plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-');
  }
  std::string rendered;
  if (plain) {
    rendered = key;
  } else {
    rendered = quoteForMessage(key);
    rendered.front() = '"';
    rendered.back() = '"';
  }
  if (base.empty()) return rendered;
  return fmt::format("{}.{}", base, rendered);
}

std::string appendIndexPath(std::string_view base, std::size_t index) {
  return fmt::format("{}[{}]", base, index);
}

std::string quoteForMessage(std::string_view text) {
  std::string out = "'";
  std::size_t i = 0;
  for (; i < text.size() && i < kQuoteLimit; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (i < text.size()) {
    // Do not cut a UTF-8 sequence in half: drop a trailing incomplete one.
    std::size_t continuation = 0;
    while (continuation < out.size() - 1 &&
           (static_cast<unsigned char>(out[out.size() - 1 - continuation]) & 0xc0) == 0x80) {
      ++continuation;
    }
    const auto lead = static_cast<unsigned char>(out[out.size() - 1 - continuation]);
    const std::size_t expected = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (continuation + 1 < expected) out.resize(out.size() - 1 - continuation);
    out += "...";
  }
  return out + "'";
}

}  // namespace vigil::config
