#include "vmlab/lab/loader.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <system_error>
#include <toml++/toml.h>

#include "vmlab/guest/checks.hpp"
#include "vmlab/guest/template.hpp"
#include "vmlab/lab/addresses.hpp"
#include "vmlab/lab/names.hpp"

namespace vmlab {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_lab_name = 20;
constexpr std::size_t max_vm_name = 20;
constexpr std::size_t max_network_name = 15;
constexpr std::size_t max_template_name = 40;
constexpr unsigned max_seats = 10000;
constexpr std::size_t max_vms = 32;         // per seat: the MAC layout has 5 bits for the VM
constexpr std::size_t max_nics = 8;         // per VM: 3 bits
constexpr std::size_t max_networks = 99;    // bridge names keep two digits for the network
constexpr std::uint64_t min_memory = 16ull << 20;
constexpr std::uint64_t max_memory = 4ull << 40;
constexpr std::uint64_t max_disk = 64ull << 40;
constexpr std::uint64_t min_kernel_memory = 80ull << 20;

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
    // Keys and names are short: a long word is no typo of one, and the distance is quadratic.
    constexpr std::size_t max_length = 64;
    if (word.size() > max_length) return {};
    std::string best;
    std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
    for (const auto& c : candidates) {
        if (c.size() > max_length) continue;
        const std::size_t d = edit_distance(word, c);
        if (d < best_distance) best_distance = d, best = c;
    }
    return best.empty() ? std::string{} : " (did you mean '" + best + "'?)";
}

// For a value among a few fixed choices: a typo ('uefl'), a different case ('UEFI'), or a part
// of exactly one choice ('passthrough' for 'host-passthrough').
std::string did_you_mean_choice(std::string_view word, const std::vector<std::string>& choices) {
    if (std::string typo = did_you_mean(word, choices); !typo.empty()) return typo;
    std::string lower(word);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::vector<std::string> matches;
    for (const auto& c : choices)
        if (c == lower || (lower.size() >= 3 && c.find(lower) != std::string::npos)) matches.push_back(c);
    return matches.size() == 1 ? " (did you mean '" + matches.front() + "'?)" : std::string{};
}

// "1.3KiB": a size in form, but not of whole bytes.
bool is_fractional_size(std::string_view text) {
    const std::size_t dot = text.find('.');
    if (dot == std::string_view::npos) return false;
    std::string rounded(text.substr(0, dot));
    std::size_t rest = dot + 1;
    while (rest < text.size() && text[rest] >= '0' && text[rest] <= '9') ++rest;
    if (rest == dot + 1) return false;
    rounded += text.substr(rest);
    return parse_size(rounded).has_value();
}

std::string type_name(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a float";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
        default: return "nothing";
    }
}

// toml++ recurses once per dotted key part and per nested table or array (while parsing, and
// again when it destroys the tree), so a key like `[a.a.a…]` with 100000 parts overflows the
// stack inside toml::parse. A lab needs a few levels; these limits are far above that.
constexpr std::size_t max_key_parts = 64;
constexpr std::size_t max_nesting = 128;

struct NestingProblem {
    std::uint32_t line = 1, column = 1;
    std::string message;
};

// Finds a key with too many dotted parts, or nesting too deep, in TOML text before toml++ sees
// it. It scans, it does not parse: strings and comments are skipped, runs of bare or quoted
// keys joined by dots are counted, and [ { ] } are matched. Malformed TOML is left to toml::parse.
class NestingScan {
public:
    explicit NestingScan(std::string_view text) : m_text(text) {}

    std::optional<NestingProblem> run() {
        bool line_start = true;
        while (!m_problem && m_i < m_text.size()) {
            const char c = peek();
            if (c == ' ' || c == '\t' || c == '\r') {
                advance();
                continue;
            }
            if (c == '\n') {
                end_chain(c);
                advance();
                line_start = true;
                continue;
            }
            const bool at_line_start = line_start;
            line_start = false;
            if (c == '#') {
                end_chain(c);
                while (m_i < m_text.size() && peek() != '\n') advance();
            } else if (c == '"' || c == '\'') {
                segment();
                skip_string();
            } else if (is_bare(c)) {
                segment();
                while (m_i < m_text.size() && is_bare(peek())) advance();
            } else if (c == '.') {
                if (m_parts > 0 && !m_after_dot)
                    m_after_dot = true;
                else
                    end_chain(c);
                advance();
            } else {
                end_chain(c);
                structure(c, at_line_start);
            }
        }
        return m_problem;
    }

private:
    static bool is_bare(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               static_cast<unsigned char>(c) >= 0x80;
    }

    char peek(std::size_t ahead = 0) const { return m_i + ahead < m_text.size() ? m_text[m_i + ahead] : '\0'; }

    // Columns count code points, as toml++ does.
    void advance() {
        const auto c = static_cast<unsigned char>(m_text[m_i++]);
        if (c == '\n')
            ++m_line, m_column = 1;
        else if ((c & 0xc0) != 0x80)
            ++m_column;
    }

    // [table], [[array of tables]], arrays and inline tables.
    void structure(char c, bool at_line_start) {
        if (c == '[' && at_line_start && m_levels.empty()) {
            m_in_header = true;
            m_key_parts = 0;
            advance();
            if (peek() == '[') advance();
            return;
        }
        if (c == ']' && m_in_header) {
            m_in_header = false;
            advance();
            if (peek() == ']') advance();
            return;
        }
        if (c == '[' || c == '{') {
            m_levels.push_back(0);
            check_depth();
        } else if ((c == ']' || c == '}') && !m_levels.empty()) {
            m_levels.pop_back();
        }
        advance();
    }

    // A bare word or a quoted string: the next part of a dotted key, or the start of a new run.
    void segment() {
        if (m_after_dot) {
            m_after_dot = false;
            ++m_parts;
        } else {
            end_chain('\0');
            m_parts = 1;
            m_chain_line = m_line;
            m_chain_column = m_column;
        }
        if (m_parts > max_key_parts && !m_problem)
            m_problem = NestingProblem{m_chain_line, m_chain_column,
                                       "this key has more than " + std::to_string(max_key_parts) +
                                           " dotted parts; a lab needs a few (such as [vms.web]): shorten the key"};
    }

    // The run of dotted parts ends at `terminator`: '=' makes it a key, ']' in a header a table name.
    void end_chain(char terminator) {
        if (m_parts == 0) return;
        if (terminator == '=') {
            (m_levels.empty() ? m_key_parts : m_levels.back()) = m_parts;
            check_depth();
        } else if (terminator == ']' && m_in_header) {
            m_header_parts = m_parts;
            check_depth();
        }
        m_parts = 0;
        m_after_dot = false;
    }

    void check_depth() {
        std::size_t depth = m_header_parts + m_key_parts;
        for (const std::size_t parts : m_levels) depth += parts + 1;
        if (depth > max_nesting && !m_problem)
            m_problem = NestingProblem{m_line, m_column,
                                       "tables, arrays and dotted keys nest more than " + std::to_string(max_nesting) +
                                           " levels deep here; a lab needs a few: flatten it"};
    }

    // From an opening quote past the closing one: "…" and '…' end at the line, """…""" and
    // '''…''' may span lines and end with up to two more quotes; only basic strings have escapes.
    void skip_string() {
        const char quote = peek();
        const bool basic = quote == '"';
        if (peek(1) == quote && peek(2) == quote) {
            advance(), advance(), advance();
            while (m_i < m_text.size()) {
                if (basic && peek() == '\\') {
                    advance();
                    if (m_i < m_text.size()) advance();
                } else if (peek() == quote && peek(1) == quote && peek(2) == quote) {
                    advance(), advance(), advance();
                    for (int extra = 0; extra < 2 && peek() == quote; ++extra) advance();
                    return;
                } else {
                    advance();
                }
            }
            return;
        }
        advance();
        while (m_i < m_text.size() && peek() != '\n') {
            if (basic && peek() == '\\') {
                advance();
                if (m_i < m_text.size() && peek() != '\n') advance();
            } else if (peek() == quote) {
                advance();
                return;
            } else {
                advance();
            }
        }
    }

    std::string_view m_text;
    std::size_t m_i = 0;
    std::uint32_t m_line = 1, m_column = 1;
    std::size_t m_parts = 0;  // of the current run of dotted parts
    bool m_after_dot = false;
    std::uint32_t m_chain_line = 1, m_chain_column = 1;
    bool m_in_header = false;
    std::size_t m_header_parts = 0;  // of the current [table]
    std::size_t m_key_parts = 0;     // of the current top-level key = value
    std::vector<std::size_t> m_levels;  // per open array or inline table: parts of its current key
    std::optional<NestingProblem> m_problem;
};

// Collects diagnostics; knows the lab file so nodes without a source still get a place.
class Sink {
public:
    explicit Sink(std::string lab_file) : m_lab_file(std::move(lab_file)) {}

    SourcePos where(const toml::source_region& region) const {
        SourcePos pos;
        pos.file = region.path ? *region.path : m_lab_file;
        pos.line = region.begin.line;
        pos.column = region.begin.column;
        return pos;
    }
    SourcePos where(const toml::node& node) const { return where(node.source()); }

    void error(SourcePos pos, std::string message) {
        m_diagnostics.push_back({std::move(pos), Severity::error, std::move(message)});
    }
    void warning(SourcePos pos, std::string message) {
        m_diagnostics.push_back({std::move(pos), Severity::warning, std::move(message)});
    }
    const std::string& lab_file() const { return m_lab_file; }
    std::vector<Diagnostic>& diagnostics() { return m_diagnostics; }

private:
    std::string m_lab_file;
    std::vector<Diagnostic> m_diagnostics;
};

template <class E>
using Choices = std::vector<std::pair<std::string, E>>;

// Typed, checked access to one TOML table. Reports wrong types and ranges; `check_unknown`
// reports every key that no getter asked for.
class TableReader {
public:
    TableReader(const toml::table& table, std::string context, Sink& sink)
        : m_table(table), m_context(std::move(context)), m_sink(sink) {}

    const toml::node* node(const std::string& key) {
        m_known.push_back(key);
        if (m_originals) {
            const auto it = m_originals->find(key);
            return it == m_originals->end() ? nullptr : it->second;
        }
        return m_table.get(key);
    }

    // Read values from these nodes instead of the table's copies: toml++ does not copy a node's
    // source, and merged templates need it for positions and for paths relative to their file.
    void read_values_from(const std::map<std::string, const toml::node*>& originals) { m_originals = &originals; }

    SourcePos key_pos(const std::string& key) const {
        for (auto&& [k, v] : m_table)
            if (k.str() == key) return m_sink.where(k.source());
        return m_sink.where(m_table);
    }

    // Where the key's value is: problems with a value point at it, not at its key.
    SourcePos value_pos(const std::string& key) const {
        const toml::node* n = m_table.get(key);
        if (m_originals)
            if (const auto it = m_originals->find(key); it != m_originals->end()) n = it->second;
        return n ? m_sink.where(*n) : key_pos(key);
    }

    std::string path(const std::string& key) const { return m_context.empty() ? key : m_context + "." + key; }

    std::optional<std::string> string(const std::string& key) {
        const toml::node* n = node(key);
        if (!n) return std::nullopt;
        if (auto v = n->value<std::string>(); n->is_string() && v) return *v;
        type_error(key, *n, "a string");
        return std::nullopt;
    }

    std::optional<std::int64_t> integer(const std::string& key, std::int64_t min, std::int64_t max) {
        const toml::node* n = node(key);
        if (!n) return std::nullopt;
        if (!n->is_integer()) {
            type_error(key, *n, "an integer");
            return std::nullopt;
        }
        const std::int64_t v = *n->value<std::int64_t>();
        if (v < min || v > max) {
            m_sink.error(m_sink.where(*n), path(key) + " = " + std::to_string(v) + " is out of range (" +
                                               std::to_string(min) + " to " + std::to_string(max) + ")");
            return std::nullopt;
        }
        return v;
    }

    std::optional<bool> boolean(const std::string& key) {
        const toml::node* n = node(key);
        if (!n) return std::nullopt;
        if (n->is_boolean()) return *n->value<bool>();
        type_error(key, *n, "true or false");
        return std::nullopt;
    }

    std::optional<std::uint64_t> size(const std::string& key, std::uint64_t min, std::uint64_t max) {
        const toml::node* n = node(key);
        if (!n) return std::nullopt;
        return size_value(*n, path(key), min, max);
    }

    std::optional<std::uint64_t> size_value(const toml::node& n, const std::string& what, std::uint64_t min,
                                            std::uint64_t max) {
        if (!n.is_string()) {
            m_sink.error(m_sink.where(n), what + ": expected a size with a unit such as \"512MiB\" or \"20GiB\", found " +
                                              type_name(n));
            return std::nullopt;
        }
        const std::string text = *n.value<std::string>();
        const auto bytes = parse_size(text);
        if (!bytes && is_fractional_size(text)) {
            m_sink.error(m_sink.where(n), what + ": '" + text +
                                              "' is not a whole number of bytes; round it, or write it in a smaller unit");
            return std::nullopt;
        }
        if (!bytes) {
            m_sink.error(m_sink.where(n), what + ": '" + text +
                                              "' is not a size; write a number and a unit (KiB, MiB, GiB, TiB), e.g. \"512MiB\"");
            return std::nullopt;
        }
        if (*bytes < min || *bytes > max) {
            m_sink.error(m_sink.where(n), what + " = " + text + " is out of range (" + format_size(min) + " to " +
                                              format_size(max) + ")");
            return std::nullopt;
        }
        return bytes;
    }

    template <class E>
    std::optional<E> choice(const std::string& key, const Choices<E>& choices) {
        const toml::node* n = node(key);
        if (!n) return std::nullopt;
        return choice_value(*n, path(key), choices);
    }

    template <class E>
    std::optional<E> choice_value(const toml::node& n, const std::string& what, const Choices<E>& choices) {
        std::vector<std::string> names;
        for (auto& c : choices) names.push_back(c.first);
        std::string list;
        for (auto& name : names) list += (list.empty() ? "" : ", ") + name;
        if (!n.is_string()) {
            m_sink.error(m_sink.where(n), what + ": expected one of " + list + ", found " + type_name(n));
            return std::nullopt;
        }
        const std::string text = *n.value<std::string>();
        for (auto& c : choices)
            if (c.first == text) return c.second;
        m_sink.error(m_sink.where(n), what + ": '" + text + "' is not one of " + list + did_you_mean_choice(text, names));
        return std::nullopt;
    }

    const toml::table* table(const std::string& key) {
        const toml::node* n = node(key);
        if (!n) return nullptr;
        if (n->is_table()) return n->as_table();
        type_error(key, *n, "a table");
        return nullptr;
    }

    const toml::array* array(const std::string& key) {
        const toml::node* n = node(key);
        if (!n) return nullptr;
        if (n->is_array()) return n->as_array();
        type_error(key, *n, "an array");
        return nullptr;
    }

    void require(const std::string& key, const std::string& example) {
        if (!m_table.get(key))
            m_sink.error(m_sink.where(m_table),
                         (m_context.empty() ? "" : "[" + m_context + "] ") + "is missing '" + key + "' (e.g. " + key +
                             " = " + example + ")");
    }

    void check_unknown() {
        for (auto&& [k, v] : m_table) {
            const std::string key{k.str()};
            if (std::find(m_known.begin(), m_known.end(), key) == m_known.end())
                m_sink.error(m_sink.where(k.source()), "unknown key '" + path(key) + "'" + did_you_mean(key, m_known));
        }
    }

private:
    void type_error(const std::string& key, const toml::node& n, const std::string& expected) {
        m_sink.error(m_sink.where(n), path(key) + ": expected " + expected + ", found " + type_name(n));
    }

    const toml::table& m_table;
    std::string m_context;
    Sink& m_sink;
    std::vector<std::string> m_known;
    const std::map<std::string, const toml::node*>* m_originals = nullptr;
};

const Choices<Firmware> firmware_choices{{"bios", Firmware::bios}, {"uefi", Firmware::uefi}};
const Choices<CpuMode> cpu_choices{{"host-model", CpuMode::host_model},
                                   {"host-passthrough", CpuMode::host_passthrough},
                                   {"emulated", CpuMode::emulated}};
const Choices<NicModel> nic_choices{{"virtio", NicModel::virtio},   {"e1000", NicModel::e1000},
                                    {"e1000e", NicModel::e1000e},   {"vmxnet3", NicModel::vmxnet3},
                                    {"rtl8139", NicModel::rtl8139}};
const Choices<DiskFormat> format_choices{{"qcow2", DiskFormat::qcow2}, {"raw", DiskFormat::raw}};
const Choices<ConsoleKind> console_choices{
    {"vnc", ConsoleKind::vnc}, {"spice", ConsoleKind::spice}, {"none", ConsoleKind::none}};
const Choices<BootDevice> boot_choices{
    {"disk", BootDevice::disk}, {"network", BootDevice::network}, {"cdrom", BootDevice::cdrom}};
const Choices<NetworkMode> mode_choices{
    {"isolated", NetworkMode::isolated}, {"nat", NetworkMode::nat}, {"fenced", NetworkMode::fenced}};
const Choices<NetworkScope> scope_choices{{"seat", NetworkScope::seat}, {"lab", NetworkScope::lab}};
const Choices<Baseline> baseline_choices{{"running", Baseline::running}, {"powered-off", Baseline::powered_off}};
const Choices<Virtualization> virt_choices{
    {"auto", Virtualization::automatic}, {"kvm", Virtualization::kvm}, {"qemu", Virtualization::qemu}};

// Reads "[at 24] virtual size" of a qcow2 header, or the file size of a raw image.
struct ImageFacts {
    bool exists = false;
    bool is_qcow2 = false;
    std::uint64_t virtual_bytes = 0;
};

ImageFacts inspect_image(const fs::path& path) {
    ImageFacts facts;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return facts;
    facts.exists = true;
    std::ifstream in(path, std::ios::binary);
    std::array<unsigned char, 32> header{};
    in.read(reinterpret_cast<char*>(header.data()), header.size());
    if (in.gcount() == static_cast<std::streamsize>(header.size()) && header[0] == 'Q' && header[1] == 'F' &&
        header[2] == 'I' && header[3] == 0xfb) {
        facts.is_qcow2 = true;
        for (int i = 24; i < 32; ++i) facts.virtual_bytes = (facts.virtual_bytes << 8) | header[i];
    } else {
        facts.virtual_bytes = fs::file_size(path, ec);
    }
    return facts;
}

class Loader {
public:
    Loader(const fs::path& file, const LoadOptions& options) : m_sink(file.string()), m_file(file), m_options(options) {}

    LoadResult run(std::string_view text) {
        LabSpec lab;
        lab.source_file = m_file.string();
        lab.source_text = std::string(text);
        std::optional<toml::table> parsed = parse_toml(text, m_file.string());
        if (!parsed) return finish(std::nullopt);
        const toml::table root = std::move(*parsed);

        TableReader reader(root, "", m_sink);
        const toml::table* lab_table = reader.table("lab");
        if (!lab_table && !root.get("lab"))
            m_sink.error({m_file.string(), 1, 1}, "missing the [lab] table (with at least name = \"...\")");
        if (lab_table) read_lab(*lab_table, lab);
        m_inline_templates = reader.table("templates");
        if (const toml::table* nets = reader.table("networks")) read_networks(*nets, lab);
        if (const toml::table* login = reader.table("login")) read_login(*login, lab);
        if (const toml::table* vms = reader.table("vms")) read_vms(*vms, lab);
        reader.check_unknown();
        if (m_inline_templates) check_inline_templates(*m_inline_templates);

        check_addresses(lab, root);
        check_guests(lab);
        return finish(std::move(lab));
    }

    LoadResult fail(SourcePos pos, std::string message) {
        m_sink.error(std::move(pos), std::move(message));
        return finish(std::nullopt);
    }

private:
    // toml::parse, its error reported at its place; a key nested too deeply for toml++ (which
    // would overflow the stack in it) is reported instead of parsed.
    std::optional<toml::table> parse_toml(std::string_view text, const std::string& path) {
        if (const auto problem = NestingScan(text).run()) {
            m_sink.error({path, problem->line, problem->column}, problem->message);
            return std::nullopt;
        }
        try {
            return toml::parse(text, path);
        } catch (const toml::parse_error& e) {
            m_sink.error(m_sink.where(e.source()), "invalid TOML: " + std::string(e.description()));
            return std::nullopt;
        }
    }

    LoadResult finish(std::optional<LabSpec> lab) {
        LoadResult result;
        result.diagnostics = std::move(m_sink.diagnostics());
        std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
            return std::tie(a.where.file, a.where.line, a.where.column) < std::tie(b.where.file, b.where.line, b.where.column);
        });
        if (lab && !has_errors(result.diagnostics)) result.lab = std::move(lab);
        return result;
    }

    void read_lab(const toml::table& t, LabSpec& lab) {
        TableReader r(t, "lab", m_sink);
        r.require("name", "\"my-lab\"");
        if (auto name = r.string("name")) {
            if (is_valid_name(*name, max_lab_name))
                lab.name = *name;
            else
                m_sink.error(r.key_pos("name"), name_rule("lab.name", *name, max_lab_name));
        }
        lab.title = r.string("title").value_or(lab.name);
        const auto seats = r.integer("seats", 1, max_seats);
        lab.seats = static_cast<unsigned>(seats.value_or(1));
        m_seats_sound = seats || !t.get("seats");
        if (auto host = r.string("host")) {
            if (host->empty() || host->find(':') == std::string::npos)
                m_sink.error(r.value_pos("host"), "lab.host: '" + *host + "' is not a libvirt URI (e.g. \"qemu:///system\")");
            else
                lab.host_uri = *host;
        }
        if (auto storage = r.string("storage")) {
            if (storage->empty())
                m_sink.error(r.value_pos("storage"), "lab.storage: the storage directory must not be empty");
            else
                lab.storage = absolute_from(m_file, *storage).string();
            if (const auto foreign = foreign_files(lab.storage, lab.name); !lab.name.empty() && !foreign.empty()) {
                std::string names;
                for (const auto& f : foreign) names += (names.empty() ? "" : ", ") + f;
                m_sink.error(r.value_pos("storage"), "lab.storage: " + lab.storage + " holds files vmlab did not create (" + names +
                                                       "); `vmlab down` empties and removes this directory, so give the "
                                                       "lab a new or empty one");
            }
        } else if (!lab.name.empty()) {
            lab.storage = "/var/lib/vmlab/pools/" + lab.name;
        }
        if (auto cidr = r.string("cidr")) {
            if (auto net = parse_ipv4_net(*cidr); net && net->prefix <= 30)
                lab.cidr = *net, m_has_cidr = true;
            else
                m_sink.error(r.value_pos("cidr"), "lab.cidr: '" + *cidr +
                                                    "' is not an IPv4 network such as \"10.210.0.0/16\" (host bits must be zero)");
            m_cidr_pos = r.value_pos("cidr");
            m_cidr_given = true;
        } else if (t.get("cidr")) {
            m_cidr_given = true;  // not a string: reported
        }
        if (auto v = r.choice("virtualization", virt_choices)) lab.virtualization = *v;
        if (auto v = r.choice("baseline", baseline_choices)) m_lab_baseline = *v;
        if (auto v = r.integer("ready_timeout", 10, 3600)) lab.ready_timeout_seconds = static_cast<unsigned>(*v);
        r.check_unknown();
    }

    void read_networks(const toml::table& nets, LabSpec& lab) {
        for (auto&& [key, node] : nets) {
            const std::string name{key.str()};
            if (!node.is_table()) {
                m_sink.error(m_sink.where(node), "networks." + name + ": expected a table, found " + type_name(node));
                continue;
            }
            NetworkSpec net;
            net.name = name;
            net.where = m_sink.where(key.source());
            if (!is_valid_name(name, max_network_name)) m_sink.error(net.where, name_rule("network name", name, max_network_name));
            TableReader r(*node.as_table(), "networks." + name, m_sink);
            const std::size_t errors_before = error_count();
            if (auto v = r.choice("mode", mode_choices)) net.mode = *v;
            if (auto v = r.choice("scope", scope_choices)) net.scope = *v;
            if (auto v = r.integer("prefix", 16, 29)) net.prefix = static_cast<unsigned>(*v);
            if (auto cidr = r.string("cidr")) {
                if (auto parsed = parse_ipv4_net(*cidr); parsed && parsed->prefix >= 8 && parsed->prefix <= 29)
                    net.cidr = *parsed, net.prefix = parsed->prefix;
                else
                    m_sink.error(r.value_pos("cidr"), "networks." + name + ".cidr: '" + *cidr +
                                                         "' is not an IPv4 network between /8 and /29 with host bits zero");
            }
            const auto dhcp = r.boolean("dhcp");
            net.dhcp = dhcp.value_or(net.mode != NetworkMode::fenced);
            if (net.mode == NetworkMode::fenced && !r.node("cidr"))
                m_sink.error(net.where, "networks." + name +
                                            ": a fenced network needs cidr = \"...\": every seat gets the same addressing");
            // The address checks use a network only if what they read of it is sound. The two
            // mistakes below have one possible meaning, which they go on with.
            if (error_count() != errors_before || (net.mode == NetworkMode::fenced && !net.cidr))
                m_unsound_networks.insert(name);
            if (net.mode == NetworkMode::fenced) {
                if (dhcp.value_or(false))
                    m_sink.error(r.key_pos("dhcp"), "networks." + name +
                                                        ".dhcp: a fenced network has no host-side address, so the host cannot serve DHCP; "
                                                        "run a DHCP server in a VM instead");
                if (net.scope == NetworkScope::lab)
                    m_sink.error(r.key_pos("scope"), "networks." + name + ": fenced networks are per seat (scope = \"seat\")");
                net.dhcp = false;
                net.scope = NetworkScope::seat;
            }
            r.check_unknown();
            lab.networks.push_back(std::move(net));
        }
        if (lab.networks.size() > max_networks)
            m_sink.error(m_sink.where(nets), "a lab may define at most " + std::to_string(max_networks) + " networks");
    }

    // [login]: the attendee's account on every cloud-init VM.
    void read_login(const toml::table& t, LabSpec& lab) {
        TableReader r(t, "login", m_sink);
        m_login_pos = m_sink.where(t);
        if (auto user = r.string("user")) {
            if (is_valid_user_name(*user))
                lab.login.user = *user;
            else
                m_sink.error(r.value_pos("user"), "login.user: '" + *user +
                                                      "' is not a Linux user name: use lowercase letters, digits, '_' and '-', "
                                                      "starting with a letter, at most 32 characters (and not root)");
        }
        if (auto password = r.string("password")) {
            if (*password == "random")
                lab.login.password.reset();
            else if (password->empty())
                m_sink.error(r.value_pos("password"), "login.password: empty; write \"random\" (a password per seat) or a fixed one");
            else if (password->find_first_of("\n\r:") != std::string::npos)
                m_sink.error(r.value_pos("password"), "login.password: a password cannot hold ':' or line breaks");
            else
                lab.login.password = *password;
        }
        if (const toml::array* keys = r.array("ssh_keys")) {
            for (const auto& key : *keys) {
                const auto text = key.value<std::string>();
                if (!key.is_string() || !text) {
                    m_sink.error(m_sink.where(key), "login.ssh_keys: expected a public key as a string, found " + type_name(key));
                    continue;
                }
                if (const auto problem = ssh_public_key_problem(*text))
                    m_sink.error(m_sink.where(key), "login.ssh_keys: " + *problem);
                else
                    lab.login.ssh_keys.push_back(*text);
            }
        }
        if (auto sudo = r.boolean("sudo")) lab.login.sudo = *sudo;
        r.check_unknown();
    }

    static bool is_valid_user_name(const std::string& name) {
        if (name.empty() || name.size() > 32 || name == "root") return false;
        if (name.front() < 'a' || name.front() > 'z') return false;
        return std::all_of(name.begin(), name.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        });
    }

    void read_vms(const toml::table& vms, LabSpec& lab) {
        std::vector<std::string> network_names;
        for (auto& n : lab.networks) network_names.push_back(n.name);
        for (auto&& [key, node] : vms) {
            const std::string name{key.str()};
            if (!node.is_table()) {
                m_sink.error(m_sink.where(node), "vms." + name + ": expected a table, found " + type_name(node));
                continue;
            }
            VmSpec vm;
            vm.name = name;
            vm.where = m_sink.where(key.source());
            if (!is_valid_name(name, max_vm_name)) m_sink.error(vm.where, name_rule("VM name", name, max_vm_name));
            const std::string ctx = "vms." + name;
            TableReader r(*node.as_table(), ctx, m_sink);
            r.require("template", "\"tiny\"");
            const TemplateSpec* tpl = nullptr;
            if (auto tname = r.string("template")) {
                vm.template_name = *tname;
                tpl = resolve_template(*tname, r.key_pos("template"), lab);
            }
            if (tpl) {
                vm.vcpus = tpl->vcpus;
                vm.memory_bytes = tpl->memory_bytes;
                vm.disk_bytes = tpl->disk_bytes;
            }
            if (auto v = r.integer("vcpus", 1, 256)) vm.vcpus = static_cast<unsigned>(*v);
            if (auto v = r.size("memory", min_memory, max_memory)) vm.memory_bytes = *v;
            if (auto v = r.size("disk", 1 << 20, max_disk)) vm.disk_bytes = *v;
            if (tpl && !tpl->kernel.empty() && vm.memory_bytes < min_kernel_memory)
                m_sink.warning(r.node("memory") ? m_sink.where(*r.node("memory")) : vm.where,
                               ctx + ": " + format_size(vm.memory_bytes) +
                                   " of memory is below 80MiB; a Debian kernel dies silently with less");
            if (tpl && tpl->image_virtual_bytes && vm.disk_bytes && vm.disk_bytes < tpl->image_virtual_bytes)
                m_sink.error(r.node("disk") ? m_sink.where(*r.node("disk")) : vm.where,
                             ctx + ".disk: " + format_size(vm.disk_bytes) + " is smaller than the image of template '" +
                                 tpl->name + "' (" + format_size(tpl->image_virtual_bytes) + ")");
            if (const toml::array* disks = r.array("disks")) {
                for (auto& d : *disks)
                    if (auto bytes = r.size_value(d, ctx + ".disks", 1 << 20, max_disk))
                        vm.extra_disks.push_back({*bytes, m_sink.where(d)});
                if (vm.extra_disks.size() > 20) m_sink.error(r.key_pos("disks"), ctx + ".disks: at most 20 extra disks");
            }
            if (const toml::array* nics = r.array("nics")) {
                read_nics(*nics, ctx, network_names, vm);
                if (vm.nics.size() > max_nics)
                    m_sink.error(r.key_pos("nics"), ctx + ".nics: at most " + std::to_string(max_nics) + " NICs per VM");
            } else if (!r.node("nics") && lab.networks.size() == 1) {
                vm.nics.push_back({lab.networks.front().name, std::nullopt, vm.where});
            }
            if (const toml::array* boot = r.array("boot")) {
                vm.boot.clear();
                for (auto& b : *boot)
                    if (auto dev = r.choice_value(b, ctx + ".boot", boot_choices)) vm.boot.push_back(*dev);
                if (boot->empty()) m_sink.error(r.value_pos("boot"), ctx + ".boot: list at least one device, e.g. [\"disk\"]");
            }
            if (auto v = r.choice("console", console_choices)) vm.console.kind = *v;
            vm.baseline = r.choice("baseline", baseline_choices).value_or(m_lab_baseline);
            vm.ready_console = r.string("ready_console").value_or("");
            read_guest(r, ctx, tpl, vm);
            if (auto listen = r.string("console_listen")) {
                if (parse_ipv4(*listen))
                    vm.console.listen = *listen;
                else
                    m_sink.error(r.value_pos("console_listen"), ctx + ".console_listen: '" + *listen +
                                                                  "' is not an IPv4 address (e.g. \"127.0.0.1\")");
            }
            if (tpl && tpl->image.empty() && tpl->kernel.empty() && vm.disk_bytes == 0)
                m_sink.error(vm.where, ctx + ": template '" + tpl->name +
                                           "' has no image, no kernel and no disk size: nothing to boot from");
            r.check_unknown();
            lab.vms.push_back(std::move(vm));
        }
        if (lab.vms.size() > max_vms)
            m_sink.error(m_sink.where(vms), "a lab may define at most " + std::to_string(max_vms) + " VMs per seat");
    }

    // hostname (any VM: its DNS name), and for cloud-init VMs user_data and login.
    void read_guest(TableReader& r, const std::string& ctx, const TemplateSpec* tpl, VmSpec& vm) {
        vm.cloud_init = tpl && tpl->cloud_init;
        vm.hostname = vm.name;
        vm.hostname_where = vm.where;
        if (auto hostname = r.string("hostname")) {
            vm.hostname = *hostname;
            vm.hostname_where = r.value_pos("hostname");
            ++vm.hostname_where.column;  // past the opening quote
        }
        const auto user_data = r.string("user_data");
        const auto login = r.boolean("login");
        if (tpl && !vm.cloud_init) {
            for (const char* key : {"user_data", "login"})
                if (r.node(key))
                    m_sink.error(r.key_pos(key), ctx + "." + key + ": template '" + tpl->name +
                                                     "' does not run cloud-init; set cloud_init = true in the template if its "
                                                     "image has cloud-init");
            return;
        }
        if (!vm.cloud_init) return;
        if (tpl->image.empty() && !m_failed_templates.count(tpl->name))
            m_sink.error(vm.where, ctx + ": template '" + tpl->name +
                                       "' has cloud_init = true but no image; cloud-init runs from the guest's disk image");
        if (login) vm.login = *login;
        if (user_data) {
            const fs::path file = absolute_from(m_file, *user_data);
            UserDataFile read = read_user_data(file, r.value_pos("user_data"));
            for (auto& d : read.diagnostics) m_sink.diagnostics().push_back(std::move(d));
            if (read.text) {
                vm.user_data = std::move(*read.text);
                vm.user_data_file = file.string();
            }
        }
    }

    // Templates and names of cloud-init VMs, with every seat's values: hostnames are DNS labels
    // and unique in their seat; user_data uses known variables and is a cloud-config once
    // expanded (with sample values for the attendee and addresses).
    void check_guests(const LabSpec& lab) {
        bool any_cloud_init = false;
        for (const auto& vm : lab.vms) any_cloud_init = any_cloud_init || vm.cloud_init;
        if (m_login_pos && !any_cloud_init)
            m_sink.warning(*m_login_pos, "[login] has no effect: no VM uses a template with cloud_init = true");
        if (lab.name.empty()) return;
        check_hostnames(lab);
        for (const auto& vm : lab.vms) {
            if (vm.user_data.empty()) continue;
            const SourcePos origin{vm.user_data_file, 1, 1};
            const Expansion e = expand_lab_template(vm.user_data, sample_vars(lab, vm), origin);
            for (const auto& d : e.diagnostics) m_sink.diagnostics().push_back(d);
            if (e.diagnostics.empty())
                for (auto& d : check_cloud_config(e.text, origin)) m_sink.diagnostics().push_back(std::move(d));
        }
    }

    // One problem per VM: the others are most likely the same one in other seats.
    void check_hostnames(const LabSpec& lab) {
        std::set<std::string> reported;
        const unsigned seats_to_check = std::min(lab.seats, 64u);  // names differ only by {{seat}}
        for (unsigned seat = 1; seat <= seats_to_check; ++seat) {
            std::map<std::string, std::string> taken;  // hostname -> VM
            for (const auto& vm : lab.vms) {
                if (reported.count(vm.name)) continue;
                if (vm.hostname == vm.name && !is_valid_name(vm.name, max_vm_name)) continue;  // reported as a VM name
                const Expansion e = expand_hostname(vm.hostname, lab.name, seat, vm.name, vm.hostname_where);
                const SourcePos at = vm.hostname_where;
                if (!e.diagnostics.empty()) {
                    for (const auto& d : e.diagnostics) m_sink.diagnostics().push_back(d);
                    reported.insert(vm.name);
                } else if (const auto problem = hostname_problem(e.text)) {
                    m_sink.error(at, "vms." + vm.name + ".hostname: " + *problem +
                                         (seat > 1 ? " (in seat " + std::to_string(seat) + ")" : ""));
                    reported.insert(vm.name);
                } else if (const auto [it, fresh] = taken.emplace(e.text, vm.name); !fresh) {
                    m_sink.error(at, "vms." + vm.name + ".hostname: '" + e.text + "' is also the hostname of VM '" +
                                         it->second + "' in seat " + std::to_string(seat) +
                                         "; the VMs of a seat need different names");
                    reported.insert(vm.name);
                }
            }
        }
    }

    // Seat 1's values, with sample ones for what only `up` knows (attendee, password, addresses).
    static TemplateVars sample_vars(const LabSpec& lab, const VmSpec& vm) {
        TemplateVars vars;
        vars.lab = lab.name;
        vars.seat = 1;
        vars.vm = vm.name;
        vars.hostname = vm.hostname;
        vars.attendee.name = "Ada Lovelace";
        vars.attendee.email = "ada@example.org";
        vars.login.user = lab.login.user;
        vars.login.password = lab.login.password.value_or("sample-password");
        const Ipv4 sample = *parse_ipv4("192.0.2.10");
        for (const auto& other : lab.vms) {
            TemplateVm entry{other.hostname, {}};
            for (const auto& nic : other.nics) entry.ips[nic.network] = sample;
            if (&other == &vm) vars.ips = entry.ips;
            vars.vms[other.name] = std::move(entry);
        }
        return vars;
    }

    void read_nics(const toml::array& nics, const std::string& ctx, const std::vector<std::string>& network_names,
                   VmSpec& vm) {
        for (auto& item : nics) {
            if (!item.is_table()) {
                m_sink.error(m_sink.where(item), ctx + ".nics: each NIC is a table such as { network = \"lan\", address = 10 }");
                continue;
            }
            NicSpec nic;
            nic.where = m_sink.where(item);
            TableReader r(*item.as_table(), ctx + ".nics", m_sink);
            r.require("network", "\"lan\"");
            if (auto net = r.string("network")) {
                if (std::find(network_names.begin(), network_names.end(), *net) == network_names.end())
                    m_sink.error(r.key_pos("network"), ctx + ".nics: no network named '" + *net + "'" +
                                                           did_you_mean(*net, network_names));
                nic.network = *net;
            }
            if (auto host = r.integer("address", 1, (1 << 24) - 2))
                nic.host = static_cast<std::uint32_t>(*host);
            else if (r.node("address") && !nic.network.empty())
                m_networks_with_bad_address.insert(nic.network);
            nic.where = r.node("address") ? m_sink.where(*r.node("address")) : nic.where;
            r.check_unknown();
            vm.nics.push_back(std::move(nic));
        }
    }

    // Templates: inline [templates.NAME] first, then NAME.toml in the template directories.
    // `extends` chains are merged parent-first; a cycle is an error.
    const TemplateSpec* resolve_template(const std::string& name, const SourcePos& used_at, LabSpec& lab) {
        if (const TemplateSpec* done = lab.find_template(name)) return done;
        if (m_failed_templates.count(name)) return nullptr;
        std::vector<std::string> chain;
        toml::table merged;
        std::map<std::string, const toml::node*> originals;
        if (!merge_template(name, used_at, chain, merged, originals)) {
            m_failed_templates.insert(name);
            return nullptr;
        }
        m_read_templates.insert(chain.begin(), chain.end());
        TemplateSpec tpl;
        tpl.name = name;
        tpl.where = m_template_pos[name];
        if (!read_template(merged, originals, tpl)) {
            m_failed_templates.insert(name);
            return nullptr;
        }
        lab.templates.push_back(std::move(tpl));
        return &lab.templates.back();
    }

    bool merge_template(const std::string& name, const SourcePos& used_at, std::vector<std::string>& chain,
                        toml::table& merged, std::map<std::string, const toml::node*>& originals) {
        if (std::find(chain.begin(), chain.end(), name) != chain.end()) {
            std::string cycle;
            for (auto& c : chain) cycle += c + " -> ";
            m_sink.error(used_at, "template '" + name + "' extends itself (" + cycle + name + ")");
            return false;
        }
        const toml::table* t = find_template_table(name, used_at);
        if (!t) return false;
        chain.push_back(name);
        if (const toml::node* parent = t->get("extends")) {
            if (auto pname = parent->value<std::string>(); parent->is_string() && pname) {
                if (!merge_template(*pname, m_sink.where(*parent), chain, merged, originals)) return false;
            } else {
                m_sink.error(m_sink.where(*parent), "extends: expected a template name, found " + type_name(*parent));
                return false;
            }
        }
        for (auto&& [k, v] : *t)
            if (k.str() != "extends") merged.insert_or_assign(k, v), originals[std::string(k.str())] = &v;
        return true;
    }

    const toml::table* find_template_table(const std::string& name, const SourcePos& used_at) {
        if (m_inline_templates)
            if (const toml::node* n = m_inline_templates->get(name)) {
                if (!m_template_pos.count(name)) m_template_pos[name] = m_sink.where(*n);
                return n->as_table();  // a non-table is reported by check_inline_templates
            }
        if (!is_valid_name(name, max_template_name)) {
            m_sink.error(used_at, name_rule("template name", name, max_template_name));
            return nullptr;
        }
        // A file shared by several chains is read (and its problems reported) once.
        if (const auto it = m_file_templates.find(name); it != m_file_templates.end()) return it->second;
        const std::vector<fs::path> dirs = template_search_dirs(m_file, m_options);
        std::string searched;
        for (const auto& dir : dirs) {
            const fs::path candidate = (dir / (name + ".toml")).lexically_normal();
            searched += (searched.empty() ? "" : ", ") + candidate.string();
            std::error_code ec;
            const fs::file_status status = fs::status(candidate, ec);
            if (!fs::exists(status)) continue;
            if (!fs::is_regular_file(status)) {
                m_sink.error(used_at, "template file " + candidate.string() + " is not a regular file" +
                                          (fs::is_directory(status) ? " but a directory" : "") +
                                          "; a template is a NAME.toml file");
                return m_file_templates[name] = nullptr;
            }
            if (fs::file_size(candidate, ec) > max_lab_file_bytes) {
                m_sink.error(used_at, "template file " + candidate.string() + " is larger than 1 MiB");
                return m_file_templates[name] = nullptr;
            }
            std::ifstream in(candidate, std::ios::binary);
            std::stringstream text;
            text << in.rdbuf();
            std::optional<toml::table> parsed = parse_toml(text.str(), candidate.string());
            if (!parsed) return m_file_templates[name] = nullptr;
            m_template_files.push_back(std::move(*parsed));
            const toml::table& t = m_template_files.back();
            m_file_templates[name] = &t;
            m_template_pos[name] = SourcePos{candidate.string(), 1, 1};
            check_template_keys(t, "template " + name);
            return &t;
        }
        std::vector<std::string> known;
        if (m_inline_templates)
            for (auto&& [k, v] : *m_inline_templates) known.push_back(std::string(k.str()));
        for (const auto& dir : dirs) {
            std::error_code ec;
            for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
                if (it->path().extension() == ".toml" && it->path().stem() != name) known.push_back(it->path().stem().string());
        }
        m_sink.error(used_at, "no template named '" + name + "'" + did_you_mean(name, known) + " (searched inline [templates] and " +
                                  searched + ")");
        return nullptr;
    }

    static const std::vector<std::string>& template_keys() {
        static const std::vector<std::string> keys{"extends", "image",    "format", "kernel",   "initrd",   "cmdline",
                                                   "firmware", "cpu",     "vcpus",  "memory",   "disk",     "nic_model",
                                                   "cloud_init"};
        return keys;
    }

    void check_template_keys(const toml::table& t, const std::string& ctx) {
        for (auto&& [k, v] : t) {
            const std::string key{k.str()};
            const auto& keys = template_keys();
            if (std::find(keys.begin(), keys.end(), key) == keys.end())
                m_sink.error(m_sink.where(k.source()), "unknown key '" + key + "' in " + ctx + did_you_mean(key, keys));
        }
    }

    void check_inline_templates(const toml::table& templates) {
        for (auto&& [k, v] : templates) {
            const std::string name{k.str()};
            if (!v.is_table()) {
                m_sink.error(m_sink.where(v), "templates." + name + ": expected a table, found " + type_name(v));
                continue;
            }
            if (!is_valid_name(name, max_template_name))
                m_sink.error(m_sink.where(k.source()), name_rule("template name", name, max_template_name));
            check_template_keys(*v.as_table(), "templates." + name);
            if (!m_read_templates.count(name)) check_unused_template(*v.as_table(), name);
        }
    }

    // A template no VM uses (directly or through `extends`) is never merged and read; its own
    // values get the type, range and choice checks nonetheless.
    void check_unused_template(const toml::table& t, const std::string& name) {
        TableReader r(t, "template " + name, m_sink);
        for (const char* key : {"extends", "image", "kernel", "initrd", "cmdline"}) r.string(key);
        r.choice("format", format_choices);
        r.choice("firmware", firmware_choices);
        r.choice("cpu", cpu_choices);
        r.integer("vcpus", 1, 256);
        r.size("memory", min_memory, max_memory);
        r.size("disk", 1 << 20, max_disk);
        r.choice("nic_model", nic_choices);
        r.boolean("cloud_init");
    }

    bool read_template(const toml::table& merged, const std::map<std::string, const toml::node*>& originals,
                       TemplateSpec& tpl) {
        const std::size_t errors_before = error_count();
        const std::string ctx = "template " + tpl.name;
        TableReader r(merged, ctx, m_sink);
        r.read_values_from(originals);
        for (const auto& key : template_keys()) r.node(key);  // unknown keys were reported per file
        tpl.image = file_path(r, "image");
        if (auto v = r.choice("format", format_choices)) tpl.image_format = *v;
        tpl.kernel = file_path(r, "kernel");
        tpl.initrd = file_path(r, "initrd");
        tpl.cmdline = r.string("cmdline").value_or("");
        if (!tpl.initrd.empty() && tpl.kernel.empty())
            m_sink.error(r.key_pos("initrd"), ctx + ": initrd needs a kernel (direct kernel boot)");
        if (!tpl.cmdline.empty() && tpl.kernel.empty())
            m_sink.error(r.key_pos("cmdline"), ctx + ": cmdline needs a kernel (direct kernel boot)");
        if (auto v = r.choice("firmware", firmware_choices)) tpl.firmware = *v;
        if (auto v = r.choice("cpu", cpu_choices)) tpl.cpu_mode = *v;
        if (auto v = r.integer("vcpus", 1, 256)) tpl.vcpus = static_cast<unsigned>(*v);
        if (auto v = r.size("memory", min_memory, max_memory)) tpl.memory_bytes = *v;
        if (auto v = r.size("disk", 1 << 20, max_disk)) tpl.disk_bytes = *v;
        if (auto v = r.choice("nic_model", nic_choices)) tpl.nic_model = *v;
        if (auto v = r.boolean("cloud_init")) tpl.cloud_init = *v;
        if (!tpl.image.empty()) {
            const ImageFacts facts = inspect_image(tpl.image);
            std::error_code ec;
            if (!facts.exists && fs::exists(tpl.image, ec)) {
                m_sink.error(r.value_pos("image"), ctx + ": image " + tpl.image + " is not a regular file; name the image file itself");
            } else if (!facts.exists) {
                m_sink.warning(r.key_pos("image"), ctx + ": image " + tpl.image +
                                                       " does not exist on this machine; `vmlab up` needs it");
            } else if (tpl.image_format == DiskFormat::qcow2 && !facts.is_qcow2) {
                m_sink.error(r.key_pos("image"), ctx + ": " + tpl.image + " is not a qcow2 image; set format = \"raw\" if it is raw");
            } else {
                tpl.image_virtual_bytes = facts.virtual_bytes;
            }
        }
        for (const char* key : {"kernel", "initrd"}) {
            const std::string& path = std::string(key) == "kernel" ? tpl.kernel : tpl.initrd;
            std::error_code ec;
            if (!path.empty() && fs::exists(path, ec) && !fs::is_regular_file(path, ec))
                m_sink.error(r.value_pos(key), ctx + ": " + key + " " + path + " is not a regular file; name the file itself");
            else if (!path.empty() && !fs::is_regular_file(path, ec))
                m_sink.warning(r.key_pos(key), ctx + ": " + key + " " + path + " does not exist on this machine; `vmlab up` needs it");
        }
        return error_count() == errors_before;
    }

    // A path from a template, relative to the file that defines that key.
    std::string file_path(TableReader& r, const std::string& key) {
        const toml::node* n = r.node(key);
        auto value = r.string(key);
        if (!n || !value) return {};
        if (value->empty()) {
            m_sink.error(m_sink.where(*n), key + ": the path must not be empty");
            return {};
        }
        const fs::path defined_in = n->source().path ? fs::path(*n->source().path) : m_file;
        const fs::path path = absolute_from(defined_in, *value);
        std::vector<fs::path> allowed = allowed_image_dirs(m_options);
        allowed.push_back(fs::absolute(defined_in).parent_path());
        if (std::none_of(allowed.begin(), allowed.end(), [&](const fs::path& dir) { return is_inside(path, dir); })) {
            std::string dirs;
            for (const auto& dir : allowed) dirs += (dirs.empty() ? "" : ", ") + dir.string();
            std::error_code ec;
            const fs::path resolved = fs::weakly_canonical(path, ec);
            const std::string shown = path.string() + (ec || resolved == path ? "" : " (" + resolved.string() + ")");
            m_sink.error(m_sink.where(*n), key + ": " + shown + " is outside the directories images may come from (" + dirs +
                                               "); move it into one of them, or allow its directory with VMLAB_IMAGE_DIRS=DIR");
            return {};
        }
        return path.string();
    }

    bool is_sound(const NetworkSpec& net) const { return !m_unsound_networks.count(net.name); }

    // Each check runs, whatever else is wrong in the file, when the values it reads are sound.
    void check_addresses(LabSpec& lab, const toml::table& root) {
        const SourcePos lab_pos = root.get("lab") ? m_sink.where(*root.get("lab")) : SourcePos{m_file.string(), 1, 1};
        const bool needs_cidr = std::any_of(lab.networks.begin(), lab.networks.end(), [&](const NetworkSpec& n) {
            return is_sound(n) && n.mode != NetworkMode::fenced && !n.cidr;
        });
        if (needs_cidr && !m_cidr_given)
            m_sink.error(lab_pos, "lab.cidr is required: per-seat subnets are carved out of it (e.g. cidr = \"10.210.0.0/16\")");
        // The layout needs every network (a fenced one's cidr in particular) and the seat count.
        if (m_has_cidr && m_seats_sound && m_unsound_networks.empty()) {
            const SubnetLayout layout = layout_subnets(lab);
            if (!layout.error.empty()) m_sink.error(m_cidr_pos, "lab.cidr: " + layout.error);
        }
        for (const auto& net : lab.networks) {
            if (net.mode == NetworkMode::fenced || !net.cidr || !is_sound(net)) continue;
            if (m_has_cidr && net.cidr->overlaps(lab.cidr))
                m_sink.error(net.where, "networks." + net.name + ".cidr " + to_string(*net.cidr) + " overlaps lab.cidr " +
                                            to_string(lab.cidr) + ", where per-seat subnets are carved");
            for (const auto& other : lab.networks)
                if (&other < &net && other.cidr && other.mode != NetworkMode::fenced && is_sound(other) &&
                    other.cidr->overlaps(*net.cidr))
                    m_sink.error(net.where, "networks." + net.name + ".cidr " + to_string(*net.cidr) + " overlaps networks." +
                                                other.name + ".cidr " + to_string(*other.cidr));
            if (net.scope == NetworkScope::seat)
                m_sink.error(net.where, "networks." + net.name +
                                            ": an explicit cidr on a per-seat network would repeat in every seat; use scope = \"lab\", "
                                            "mode = \"fenced\", or drop cidr to get a subnet per seat");
        }
        assign_addresses(lab);
    }

    // Fixed addresses are checked; NICs without one on a DHCP network get the next free host
    // number from 10 upward (2 in small subnets), in VM order.
    void assign_addresses(LabSpec& lab) {
        std::map<std::string, std::set<std::uint32_t>> used;
        for (auto& vm : lab.vms)
            for (auto& nic : vm.nics) {
                const NetworkSpec* net = lab.find_network(nic.network);
                if (!net || !nic.host || !is_sound(*net)) continue;
                const AddressRange range = static_range(*net);
                if (net->scope == NetworkScope::lab && lab.seats > 1)
                    m_sink.error(nic.where, "vms." + vm.name + ": a fixed address on lab-wide network '" + net->name +
                                                "' would be the same in every seat; drop it to get one address per seat");
                else if (*nic.host < range.first || *nic.host > range.last)
                    m_sink.error(nic.where, "vms." + vm.name + ": address " + std::to_string(*nic.host) + " does not fit network '" +
                                                net->name + "' (/" + std::to_string(net->prefix) + "): use " +
                                                std::to_string(range.first) + " to " + std::to_string(range.last) +
                                                (net->dhcp ? " (the DHCP pool starts above)" : ""));
                else if (!used[net->name].insert(*nic.host).second)
                    m_sink.error(nic.where, "vms." + vm.name + ": address " + std::to_string(*nic.host) + " on network '" +
                                                net->name + "' is already used by another NIC");
            }
        for (auto& vm : lab.vms)
            for (auto& nic : vm.nics) {
                const NetworkSpec* net = lab.find_network(nic.network);
                if (!net || nic.host || !net->dhcp || !is_sound(*net)) continue;
                // A NIC whose address is wrong would take its place here.
                if (m_networks_with_bad_address.count(net->name)) continue;
                const AddressRange range = static_range(*net);
                std::uint32_t host = std::max<std::uint32_t>(range.first, range.last >= 30 ? 10 : range.first);
                while (host <= range.last && used[net->name].count(host)) ++host;
                if (host > range.last) {
                    m_sink.error(nic.where, "vms." + vm.name + ": network '" + net->name +
                                                "' has no free address left for this NIC; use a shorter prefix");
                    continue;
                }
                used[net->name].insert(host);
                nic.host = host;
            }
        // On a lab-wide network every seat's NICs share one subnet: seat N takes the block of
        // addresses after seat N-1's (the planner adds (N-1) * NICs-per-seat to each host number).
        for (const auto& net : lab.networks) {
            if (net.scope != NetworkScope::lab || !net.dhcp || lab.seats < 2 || used[net.name].empty() || !is_sound(net) ||
                m_networks_with_bad_address.count(net.name))
                continue;
            const AddressRange range = static_range(net);
            const std::uint64_t last = *used[net.name].rbegin() + std::uint64_t{lab.seats - 1} * used[net.name].size();
            if (last > range.last)
                m_sink.error(net.where, "networks." + net.name + ": " + std::to_string(lab.seats) + " seats x " +
                                            std::to_string(used[net.name].size()) + " NICs need host numbers up to " +
                                            std::to_string(last) + " but the addresses below the DHCP pool end at " +
                                            std::to_string(range.last) + "; use a larger subnet (a smaller prefix)");
        }
    }

    static std::string name_rule(const std::string& what, const std::string& name, std::size_t max) {
        return what + " '" + name + "' is not valid: use lowercase letters, digits and '-', start with a letter, at most " +
               std::to_string(max) + " characters (it becomes part of libvirt, bridge and file names)";
    }

    static fs::path absolute_from(const fs::path& file, const std::string& value) {
        const fs::path p(value);
        if (p.is_absolute()) return p.lexically_normal();
        return (fs::absolute(file).parent_path() / p).lexically_normal();
    }

    std::size_t error_count() {
        auto& d = m_sink.diagnostics();
        return static_cast<std::size_t>(
            std::count_if(d.begin(), d.end(), [](const Diagnostic& x) { return x.severity == Severity::error; }));
    }

    Sink m_sink;
    fs::path m_file;
    const LoadOptions& m_options;
    const toml::table* m_inline_templates = nullptr;
    std::deque<toml::table> m_template_files;
    std::map<std::string, const toml::table*> m_file_templates;  // by name; nullptr: unreadable
    std::map<std::string, SourcePos> m_template_pos;
    std::set<std::string> m_failed_templates;
    std::set<std::string> m_read_templates;  // merged into a template some VM uses
    bool m_has_cidr = false;    // lab.cidr is a valid network
    bool m_cidr_given = false;  // lab.cidr is there, valid or not
    bool m_seats_sound = true;
    std::set<std::string> m_unsound_networks;          // with a wrong mode, scope, prefix, cidr or dhcp
    std::set<std::string> m_networks_with_bad_address;  // with a NIC whose address is wrong
    Baseline m_lab_baseline = Baseline::running;
    SourcePos m_cidr_pos;
    std::optional<SourcePos> m_login_pos;  // where [login] is, if it is
};

}  // namespace

std::vector<fs::path> template_search_dirs(const fs::path& lab_file, const LoadOptions& options) {
    std::vector<fs::path> dirs{lab_file.parent_path() / "templates", lab_file.parent_path() / ".." / "templates"};
    dirs.insert(dirs.end(), options.template_dirs.begin(), options.template_dirs.end());
    return dirs;
}

std::vector<fs::path> allowed_image_dirs(const LoadOptions& options) {
    std::vector<fs::path> dirs = default_image_dirs;
    dirs.insert(dirs.end(), options.image_dirs.begin(), options.image_dirs.end());
    return dirs;
}

LoadOptions load_options_from_environment() {
    LoadOptions options;
    if (const char* dirs = std::getenv("VMLAB_IMAGE_DIRS")) {
        std::string_view rest = dirs;
        while (!rest.empty()) {
            const std::string_view dir = rest.substr(0, rest.find(':'));
            if (!dir.empty()) options.image_dirs.emplace_back(dir);
            rest.remove_prefix(std::min(rest.size(), dir.size() + 1));
        }
    }
    return options;
}

bool is_inside(const fs::path& path, const fs::path& dir) {
    std::error_code ec;
    const fs::path resolved = fs::weakly_canonical(path, ec);
    if (ec) return false;
    const fs::path root = fs::weakly_canonical(dir, ec);
    if (ec) return false;
    const auto [root_end, _] = std::mismatch(root.begin(), root.end(), resolved.begin(), resolved.end());
    return root_end == root.end() || (std::next(root_end) == root.end() && root_end->empty());  // "dir/" ends in ""
}

LoadResult load_lab_text(std::string_view text, const fs::path& file, const LoadOptions& options) {
    Loader loader(file, options);
    if (text.size() > max_lab_file_bytes)
        return loader.fail({file.string(), 0, 0}, "the file is larger than 1 MiB; a lab file is a few hundred lines");
    if (text.find('\0') != std::string_view::npos)
        return loader.fail({file.string(), 0, 0}, "the file contains NUL bytes: is it a binary file?");
    return loader.run(text);
}

LoadResult load_lab(const fs::path& file, const LoadOptions& options) {
    Loader loader(file, options);
    std::error_code ec;
    const auto status = fs::status(file, ec);
    if (ec || !fs::exists(status)) return loader.fail({file.string(), 0, 0}, "no such file");
    if (fs::is_directory(status)) return loader.fail({file.string(), 0, 0}, "is a directory, not a lab file");
    if (!fs::is_regular_file(status)) return loader.fail({file.string(), 0, 0}, "is not a regular file");
    if (fs::file_size(file, ec) > max_lab_file_bytes)
        return loader.fail({file.string(), 0, 0}, "the file is larger than 1 MiB; a lab file is a few hundred lines");
    std::ifstream in(file, std::ios::binary);
    if (!in) return loader.fail({file.string(), 0, 0}, "cannot be read (check its permissions)");
    std::stringstream text;
    text << in.rdbuf();
    return load_lab_text(text.str(), file, options);
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    static const std::array<std::pair<std::string_view, std::uint64_t>, 9> units{{
        {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40}, {"KB", 1000ull},
        {"MB", 1000ull * 1000}, {"GB", 1000ull * 1000 * 1000}, {"TB", 1000ull * 1000 * 1000 * 1000}, {"B", 1ull},
    }};
    std::size_t digits = 0;
    while (digits < text.size() && ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) ++digits;
    if (digits == 0 || digits > 20) return std::nullopt;
    std::string_view number = text.substr(0, digits);
    std::string_view unit = text.substr(digits);
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    if (number.front() == '.' || number.back() == '.' || std::count(number.begin(), number.end(), '.') > 1)
        return std::nullopt;
    for (const auto& [name, factor] : units) {
        if (unit != name) continue;
        const double value = std::stod(std::string(number)) * static_cast<double>(factor);
        if (!std::isfinite(value) || value >= 18e18) return std::nullopt;
        const double rounded = std::floor(value);
        if (rounded != value) return std::nullopt;  // "1.3KiB" is not a whole number of bytes
        return static_cast<std::uint64_t>(rounded);
    }
    return std::nullopt;
}

std::string format_size(std::uint64_t bytes) {
    static const std::array<const char*, 5> units{"B", "KiB", "MiB", "GiB", "TiB"};
    std::size_t unit = 0;
    double value = static_cast<double>(bytes);
    while (unit + 1 < units.size() && value >= 1024 && (bytes % (1ull << (10 * (unit + 1))) == 0 || value >= 10240)) {
        value /= 1024;
        ++unit;
    }
    std::ostringstream out;
    if (value == std::floor(value))
        out << static_cast<std::uint64_t>(value) << units[unit];
    else
        out.precision(1), out << std::fixed << value << units[unit];
    return out.str();
}

bool is_valid_name(std::string_view name, std::size_t max_length) {
    if (name.empty() || name.size() > max_length) return false;
    if (name.front() < 'a' || name.front() > 'z' || name.back() == '-') return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

}  // namespace vmlab
