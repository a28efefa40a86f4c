#include "vmlab/seats/roster.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

namespace vmlab {

namespace fs = std::filesystem;

namespace {

constexpr std::uintmax_t max_roster_bytes = 4u << 20;  // thousands of attendees fit in far less
constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";
constexpr std::string_view columns_hint = "the header names the columns name, email and optionally seat";

struct Field {
    std::string text;
    std::uint32_t line = 0, column = 0;  // of its first character (the opening quote if quoted)
};

struct Record {
    std::vector<Field> fields;
    std::uint32_t line = 0;
};

// RFC 4180 records, with line and column of every field. Also accepts LF alone as a line end
// and spaces around a quoted field. Syntax problems go to `problems`; parsing goes on where it
// can.
class CsvReader {
public:
    CsvReader(std::string_view text, const std::string& file, std::vector<Diagnostic>& problems)
        : m_text(text), m_file(file), m_problems(problems) {}

    std::vector<Record> records() {
        std::vector<Record> out;
        while (m_pos < m_text.size()) {
            Record record{{}, m_line};
            bool end_of_record = false;
            while (!end_of_record) {
                record.fields.push_back(field());
                if (m_pos >= m_text.size()) break;
                const char c = m_text[m_pos];
                if (c == ',') {
                    advance();
                } else {  // a line end: field() stops only at ',', a line end or the end
                    line_end();
                    end_of_record = true;
                }
            }
            out.push_back(std::move(record));
            if (m_unterminated) break;
        }
        return out;
    }

    // Whether the last field's quotes never closed.
    bool unterminated() const { return m_unterminated; }

private:
    Field field() {
        Field f{{}, m_line, m_column};
        std::size_t start = m_pos;
        while (start < m_text.size() && (m_text[start] == ' ' || m_text[start] == '\t')) ++start;
        if (start < m_text.size() && m_text[start] == '"') {
            while (m_pos < start) advance();
            f.line = m_line;
            f.column = m_column;
            quoted(f);
            return f;
        }
        bool reported = false;
        while (m_pos < m_text.size() && m_text[m_pos] != ',' && m_text[m_pos] != '\n' && m_text[m_pos] != '\r') {
            if (m_text[m_pos] == '"' && !reported) {
                problem(m_line, m_column,
                        "a quote inside an unquoted field: enclose the whole field in quotes and double the "
                        "quotes inside it (\"\")");
                reported = true;
            }
            f.text += m_text[m_pos];
            advance();
        }
        return f;
    }

    void quoted(Field& f) {
        advance();  // the opening quote
        for (;;) {
            if (m_pos >= m_text.size()) {
                problem(f.line, f.column, "this quoted field is never closed (a quote is missing)");
                m_unterminated = true;
                return;
            }
            const char c = m_text[m_pos];
            if (c == '"') {
                advance();
                if (m_pos < m_text.size() && m_text[m_pos] == '"') {
                    f.text += '"';
                    advance();
                    continue;
                }
                break;
            }
            if (c == '\r' || c == '\n') {
                line_end();
                f.text += '\n';
                continue;
            }
            f.text += c;
            advance();
        }
        // After the closing quote: optional spaces, then a comma, a line end or the end.
        while (m_pos < m_text.size() && (m_text[m_pos] == ' ' || m_text[m_pos] == '\t')) advance();
        if (m_pos < m_text.size() && m_text[m_pos] != ',' && m_text[m_pos] != '\n' && m_text[m_pos] != '\r') {
            problem(m_line, m_column, "text after the closing quote of a field: put the whole field inside the quotes");
            while (m_pos < m_text.size() && m_text[m_pos] != ',' && m_text[m_pos] != '\n' && m_text[m_pos] != '\r') {
                f.text += m_text[m_pos];
                advance();
            }
        }
    }

    // CRLF, LF or a lone CR.
    void line_end() {
        if (m_text[m_pos] == '\r' && m_pos + 1 < m_text.size() && m_text[m_pos + 1] == '\n') ++m_pos;
        ++m_pos;
        ++m_line;
        m_column = 1;
    }

    void advance() {
        // Columns count characters: UTF-8 continuation bytes do not start one.
        if ((static_cast<unsigned char>(m_text[m_pos]) & 0xC0) != 0x80) ++m_column;
        ++m_pos;
    }

    void problem(std::uint32_t line, std::uint32_t column, std::string message) {
        m_problems.push_back({{m_file, line, column}, Severity::error, std::move(message)});
    }

    std::string_view m_text;
    const std::string& m_file;
    std::vector<Diagnostic>& m_problems;
    std::size_t m_pos = 0;
    std::uint32_t m_line = 1, m_column = 1;  // of the character at m_pos
    bool m_unterminated = false;
};

// The offset of the first byte that is not part of valid UTF-8 (no overlong forms, surrogates
// or code points above U+10FFFF), or npos.
std::size_t invalid_utf8_at(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t length = 0;
        unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
        if (c < 0x80) {
            ++i;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            length = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            length = 3;
            if (c == 0xE0) low = 0xA0;
            if (c == 0xED) high = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            length = 4;
            if (c == 0xF0) low = 0x90;
            if (c == 0xF4) high = 0x8F;
        } else {
            return i;
        }
        if (i + length > text.size()) return i;
        for (std::size_t k = 1; k < length; ++k) {
            const auto b = static_cast<unsigned char>(text[i + k]);
            if (k == 1 ? (b < low || b > high) : (b & 0xC0) != 0x80) return i;
        }
        i += length;
    }
    return std::string_view::npos;
}

SourcePos position_of(std::string_view text, std::size_t offset, const std::string& file) {
    SourcePos pos{file, 1, 1};
    for (std::size_t i = 0; i < offset; ++i) {
        if (text[i] == '\n') {
            ++pos.line;
            pos.column = 1;
        } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
            ++pos.column;
        }
    }
    return pos;
}

std::string trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(" \t");
    return std::string(text.substr(first, last - first + 1));
}

std::string lowercase(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
    return out;
}

bool is_ascii_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_non_ascii(char c) { return static_cast<unsigned char>(c) >= 0x80; }

bool valid_domain_label(std::string_view label) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    return std::all_of(label.begin(), label.end(), [](char c) { return is_ascii_alnum(c) || c == '-' || is_non_ascii(c); });
}

bool looks_like_email(std::string_view email) {
    const auto at = email.find('@');
    if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) return false;
    const auto local = email.substr(0, at), domain = email.substr(at + 1);
    if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.' ||
        local.find("..") != std::string_view::npos)
        return false;
    constexpr std::string_view local_specials = "!#$%&'*+/=?^_`{|}~.-";
    if (!std::all_of(local.begin(), local.end(), [&](char c) {
            return is_ascii_alnum(c) || is_non_ascii(c) || local_specials.find(c) != std::string_view::npos;
        }))
        return false;
    std::size_t labels = 0;
    for (std::size_t start = 0;;) {
        const auto dot = domain.find('.', start);
        if (!valid_domain_label(domain.substr(start, dot == std::string_view::npos ? dot : dot - start))) return false;
        ++labels;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return labels >= 2;
}

std::optional<unsigned> parse_seat(std::string_view text) {
    if (text.empty() || text.size() > 6 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    unsigned value = 0;
    for (char c : text) value = value * 10 + static_cast<unsigned>(c - '0');
    return value;
}

enum class Column { name, email, seat };

}  // namespace

std::string problem_with_name(std::string_view name) {
    if (name.empty()) return "the name is empty";
    if (name.size() > 200) return "the name is longer than 200 bytes";
    if (std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }))
        return "the name contains a line break or another control character";
    if (std::string_view("=+-@").find(name.front()) != std::string_view::npos)
        return std::string("the name starts with '") + name.front() +
               "', which spreadsheets run as a formula when the handouts are opened in one";
    if (invalid_utf8_at(name) != std::string_view::npos) return "the name is not valid UTF-8";
    return {};
}

std::string problem_with_email(std::string_view email) {
    if (email.empty()) return "the email is empty";
    if (email.size() > 254) return "the email is longer than 254 bytes";
    if (!looks_like_email(email) || invalid_utf8_at(email) != std::string_view::npos)
        return "'" + std::string(email) + "' does not look like an email address (like ada@example.org)";
    return {};
}

std::string email_key(std::string_view email) { return lowercase(email); }

namespace {

// parse_roster, with the diagnostics in the order they were found.
Roster check_roster(std::string_view text, const std::string& file, unsigned seats, const SeatsByEmail& previous) {
    Roster roster;
    auto& problems = roster.diagnostics;
    auto error = [&](std::uint32_t line, std::uint32_t column, std::string message) {
        problems.push_back({{file, line, column}, Severity::error, std::move(message)});
    };
    if (text.starts_with(utf8_bom)) text.remove_prefix(utf8_bom.size());
    if (const auto bad = invalid_utf8_at(text); bad != std::string_view::npos) {
        SourcePos where = position_of(text, bad, file);
        roster.diagnostics.push_back({where, Severity::error,
                                      "the roster is not UTF-8 text: save it as UTF-8 (\"CSV UTF-8\" in spreadsheets)"});
        return roster;
    }

    CsvReader reader(text, file, problems);
    std::vector<Record> records = reader.records();
    if (reader.unterminated()) records.pop_back();  // the rest of the file is inside its quotes
    auto blank = [](const Record& r) {
        return std::all_of(r.fields.begin(), r.fields.end(), [](const Field& f) { return trim(f.text).empty(); });
    };
    records.erase(std::remove_if(records.begin(), records.end(), blank), records.end());
    if (records.empty()) {
        error(1, 1, "the roster is empty: " + std::string(columns_hint) + ", then one attendee per line");
        return roster;
    }

    // The header.
    const Record& header = records.front();
    std::map<Column, std::size_t> index;
    std::vector<std::string> unknown;
    for (std::size_t i = 0; i < header.fields.size(); ++i) {
        const Field& f = header.fields[i];
        const std::string name = lowercase(trim(f.text));
        const std::optional<Column> column = name == "name"    ? std::optional(Column::name)
                                             : name == "email" ? std::optional(Column::email)
                                             : name == "seat"  ? std::optional(Column::seat)
                                                               : std::nullopt;
        if (!column) {
            unknown.push_back(trim(f.text));
            continue;
        }
        if (!index.emplace(*column, i).second) error(f.line, f.column, "the column '" + name + "' appears twice");
    }
    if (index.empty()) {
        std::string found;
        for (const auto& u : unknown) found += (found.empty() ? "'" : ", '") + u + "'";
        error(header.line, 1, "the first line must be a header: " + std::string(columns_hint) + " (found " + found + ")");
        return roster;
    }
    for (std::size_t i = 0; i < header.fields.size(); ++i) {
        const Field& f = header.fields[i];
        const std::string name = trim(f.text);
        if (std::find(unknown.begin(), unknown.end(), name) != unknown.end())
            error(f.line, f.column, "unknown column '" + name + "': " + std::string(columns_hint));
    }
    for (const auto& [column, label] : {std::pair{Column::name, "name"}, {Column::email, "email"}})
        if (!index.contains(column)) error(header.line, 1, std::string("the header has no '") + label + "' column");
    if (!index.contains(Column::name) || !index.contains(Column::email)) return roster;

    // The rows.
    struct Claim {
        std::uint32_t line;
        std::string name;
    };
    std::map<std::string, std::uint32_t> emails;  // email_key -> line
    std::map<unsigned, Claim> claimed;            // seats named in the roster
    std::vector<RosterEntry> entries;
    std::vector<bool> has_seat;
    const std::size_t rows = records.size() - 1;
    for (std::size_t r = 1; r < records.size(); ++r) {
        const Record& record = records[r];
        if (r == seats + 1)
            error(record.line, 1,
                  "the roster lists " + std::to_string(rows) + " attendees but the lab has only " + std::to_string(seats) +
                      " seats: this is attendee " + std::to_string(r) +
                      " (remove rows, or add seats in the lab file and run vmlab up)");
        if (record.fields.size() != header.fields.size()) {
            error(record.line, 1,
                  "this row has " + std::to_string(record.fields.size()) + " fields but the header has " +
                      std::to_string(header.fields.size()) + " (a comma inside a value needs quotes around the value)");
            continue;
        }
        RosterEntry entry;
        entry.line = record.line;
        const Field& name = record.fields[index[Column::name]];
        const Field& email = record.fields[index[Column::email]];
        entry.name = trim(name.text);
        entry.email = trim(email.text);
        if (auto p = problem_with_name(entry.name); !p.empty()) error(name.line, name.column, p);
        if (auto p = problem_with_email(entry.email); !p.empty()) {
            error(email.line, email.column, p);
        } else if (auto [it, added] = emails.emplace(email_key(entry.email), record.line); !added) {
            error(email.line, email.column,
                  "the email " + entry.email + " is already on line " + std::to_string(it->second));
        }
        bool seat_given = false;
        if (index.contains(Column::seat)) {
            const Field& seat = record.fields[index[Column::seat]];
            const std::string value = trim(seat.text);
            if (!value.empty()) {
                const auto number = parse_seat(value);
                if (!number) {
                    error(seat.line, seat.column, "the seat '" + value + "' is not a whole number");
                } else if (*number < 1 || *number > seats) {
                    error(seat.line, seat.column,
                          "there is no seat " + value + ": the lab has seats 1 to " + std::to_string(seats));
                } else if (auto [it, added] = claimed.emplace(*number, Claim{record.line, entry.name}); !added) {
                    error(seat.line, seat.column,
                          "seat " + value + " is already given to " + it->second.name + " on line " +
                              std::to_string(it->second.line));
                } else {
                    entry.seat = *number;
                    seat_given = true;
                }
            }
        }
        entries.push_back(std::move(entry));
        has_seat.push_back(seat_given);
    }
    if (rows == 0 && !reader.unterminated()) error(header.line, 1, "the roster has a header but no attendees");
    if (has_errors(problems)) return roster;

    // Seats for the rows without one: the attendee's previous seat if free, else the lowest free.
    std::set<unsigned> taken;
    for (const auto& [seat, claim] : claimed) taken.insert(seat);
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (has_seat[i]) continue;
        const auto it = previous.find(email_key(entries[i].email));
        if (it != previous.end() && it->second >= 1 && it->second <= seats && taken.insert(it->second).second) {
            entries[i].seat = it->second;
            has_seat[i] = true;
        }
    }
    unsigned next = 1;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (has_seat[i]) continue;
        while (taken.contains(next)) ++next;
        entries[i].seat = next;
        taken.insert(next);
    }
    roster.entries = std::move(entries);
    return roster;
}

}  // namespace

Roster parse_roster(std::string_view text, const std::string& file, unsigned seats, const SeatsByEmail& previous) {
    Roster roster = check_roster(text, file, seats, previous);
    std::stable_sort(roster.diagnostics.begin(), roster.diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
    });
    return roster;
}

Roster load_roster(const fs::path& file, unsigned seats, const SeatsByEmail& previous) {
    auto fail = [&](const std::string& message) {
        Roster roster;
        roster.diagnostics.push_back({{file.string(), 0, 0}, Severity::error, message});
        return roster;
    };
    std::error_code ec;
    const auto status = fs::status(file, ec);
    if (ec || !fs::exists(status)) return fail("no such file");
    if (fs::is_directory(status)) return fail("is a directory, not a roster");
    if (!fs::is_regular_file(status)) return fail("is not a regular file");
    if (fs::file_size(file, ec) > max_roster_bytes) return fail("the file is larger than 4 MiB; is it really a roster?");
    std::ifstream in(file, std::ios::binary);
    if (!in) return fail("cannot be read (check its permissions)");
    std::stringstream text;
    text << in.rdbuf();
    return parse_roster(text.str(), file.string(), seats, previous);
}

}  // namespace vmlab
