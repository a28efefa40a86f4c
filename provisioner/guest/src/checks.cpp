#include "vmlab/guest/checks.hpp"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <system_error>

#include "vmlab/guest/template.hpp"

namespace vmlab {

namespace fs = std::filesystem;

namespace {

constexpr std::array<std::string_view, 8> ssh_key_types{
    "ssh-ed25519",         "ssh-rsa",
    "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss",
};

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.empty() || text.size() % 4 != 0) return std::nullopt;
    std::string out(text.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    const std::size_t padding = static_cast<std::size_t>(std::count(text.end() - 2, text.end(), '='));
    out.resize(static_cast<std::size_t>(n) - padding);
    return out;
}

std::string first_line(std::string_view text) {
    std::string line(text.substr(0, text.find('\n')));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

}  // namespace

UserDataFile read_user_data(const fs::path& file, const SourcePos& named_at) {
    UserDataFile result;
    const auto fail = [&](std::string message) {
        result.diagnostics.push_back({named_at, Severity::error, std::move(message)});
        return result;
    };
    std::error_code ec;
    const auto status = fs::status(file, ec);
    if (!fs::exists(status)) return fail("user_data: " + file.string() + " does not exist (the path is relative to the lab file)");
    if (!fs::is_regular_file(status)) return fail("user_data: " + file.string() + " is not a regular file");
    const auto size = fs::file_size(file, ec);
    if (ec) return fail("user_data: cannot read " + file.string() + ": " + ec.message());
    if (size > max_user_data_bytes)
        return fail("user_data: " + file.string() + " is " + std::to_string(size) +
                    " bytes, more than the 64 KiB a seed carries; install big files with packages or fetch them in runcmd");
    std::ifstream in(file, std::ios::binary);
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in && !in.eof()) return fail("user_data: cannot read " + file.string());
    result.text = std::move(text);
    return result;
}

std::vector<Diagnostic> check_cloud_config(std::string_view text, const SourcePos& origin) {
    std::vector<Diagnostic> out;
    const std::string head = first_line(text);
    if (head.rfind("#cloud-config", 0) != 0 || head.find_first_not_of(" \t", 13) != std::string::npos) {
        std::string message = "user_data: the first line must be '#cloud-config' (vmlab merges cloud-config only)";
        if (head.rfind("#!", 0) == 0) message += "; put shell commands under runcmd:";
        else if (head.rfind("Content-Type:", 0) == 0) message += "; write one cloud-config instead of a MIME multipart";
        out.push_back({origin, Severity::error, message});
        return out;
    }
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
        // yaml-cpp counts lines and columns from 0.
        SourcePos where = origin;
        where.line = origin.line + static_cast<std::uint32_t>(std::max(e.mark.line, 0));
        where.column = (e.mark.line == 0 ? origin.column : 1) + static_cast<std::uint32_t>(std::max(e.mark.column, 0));
        out.push_back({where, Severity::error, "user_data: not valid YAML: " + e.msg});
        return out;
    }
    if (!root.IsNull() && !root.IsMap()) {
        out.push_back({origin, Severity::error, "user_data: the cloud-config must be a mapping of keys (packages:, runcmd:, …)"});
        return out;
    }
    const auto at = [&](const YAML::Node& node) {
        SourcePos where = origin;
        const YAML::Mark mark = node.Mark();
        where.line = origin.line + static_cast<std::uint32_t>(std::max(mark.line, 0));
        where.column = (mark.line == 0 ? origin.column : 1) + static_cast<std::uint32_t>(std::max(mark.column, 0));
        return where;
    };
    for (const auto& entry : root) {
        const std::string key = entry.first.Scalar();
        if (key == "final_message")
            out.push_back({at(entry.first), Severity::error,
                           "user_data: final_message is vmlab's: it tells when setup finished; remove it"});
        else if (key == "hostname" || key == "fqdn")
            out.push_back({at(entry.first), Severity::warning,
                           "user_data: " + key + " overrides the VM's name in the lab (DNS and the cards use that one); "
                           "set the VM's hostname key instead"});
    }
    return out;
}

std::optional<std::string> ssh_public_key_problem(std::string_view key) {
    const auto trimmed_end = key.find_last_not_of(" \t\r\n");
    key = trimmed_end == std::string_view::npos ? std::string_view{} : key.substr(0, trimmed_end + 1);
    key.remove_prefix(std::min(key.find_first_not_of(" \t"), key.size()));
    if (key.empty()) return "an empty SSH key";
    if (key.find("PRIVATE KEY") != std::string_view::npos)
        return "this is a private key; give the public key (the .pub file, e.g. ~/.ssh/id_ed25519.pub)";
    if (key.find('\n') != std::string_view::npos) return "an SSH public key is one line; give one key per entry";
    const auto space = key.find(' ');
    const std::string_view type = key.substr(0, space);
    if (std::find(ssh_key_types.begin(), ssh_key_types.end(), type) == ssh_key_types.end())
        return "not an OpenSSH public key: it starts with '" + std::string(type.substr(0, 40)) +
               "', not a key type such as ssh-ed25519 or ssh-rsa (options before the key are not supported)";
    if (type == "ssh-dss") return "ssh-dss (DSA) keys are refused by OpenSSH on Debian 12; use an ed25519 or RSA key";
    if (space == std::string_view::npos) return "the key data after '" + std::string(type) + "' is missing";
    std::string_view data = key.substr(space + 1);
    data.remove_prefix(std::min(data.find_first_not_of(' '), data.size()));
    data = data.substr(0, data.find(' '));
    const auto blob = base64_decode(data);
    // The blob starts with the key type again, as a 4-byte big-endian length and the name.
    if (!blob || blob->size() < 4 + type.size() ||
        static_cast<std::size_t>(static_cast<unsigned char>((*blob)[3]) | static_cast<unsigned char>((*blob)[2]) << 8) !=
            type.size() ||
        (*blob)[0] != 0 || (*blob)[1] != 0 || std::string_view(*blob).substr(4, type.size()) != type)
        return "the key data is not a " + std::string(type) + " key in base64 (was it cut or copied incompletely?)";
    return std::nullopt;
}

std::optional<std::string> hostname_problem(std::string_view hostname) {
    if (hostname.empty()) return "a host name cannot be empty";
    if (hostname.size() > 63) return "'" + std::string(hostname) + "' is longer than 63 characters (a DNS label)";
    for (const char c : hostname) {
        if (c >= 'A' && c <= 'Z') return "'" + std::string(hostname) + "' has capital letters; write host names in lowercase";
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return "'" + std::string(hostname) + "' is not a DNS label: use only a-z, 0-9 and '-' (no '" +
                   std::string(1, c) + "')";
    }
    if (hostname.front() == '-' || hostname.back() == '-')
        return "'" + std::string(hostname) + "' starts or ends with '-', which a DNS label may not";
    return std::nullopt;
}

}  // namespace vmlab
