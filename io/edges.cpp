// Reading reference gene networks (see edges.h). zlib's gzread reads plain and gzip files alike.
#include "io/edges.h"

#include <zlib.h>

#include <algorithm>
#include <sstream>
#include <set>

#include "engine/check.h"

namespace gpo::io {

std::vector<std::string> read_text_lines(const std::string& path) {
    gzFile f = gzopen(path.c_str(), "rb");
    GPO_CHECK(f != nullptr, path << ": cannot open the file");
    std::vector<std::string> lines;
    std::string cur;
    char buf[1 << 16];
    while (true) {
        int n = gzread(f, buf, sizeof(buf));
        if (n < 0) {
            int err = 0;
            std::string msg = gzerror(f, &err);
            gzclose(f);
            GPO_FAIL(path << ": read error after line " << lines.size() << " (" << msg << ")");
        }
        if (n == 0) {
            // End of input: for a gzip file cut short, zlib reports Z_BUF_ERROR ("unexpected end of file") here
            // instead of a negative count, so the status must be asked for explicitly.
            int err = Z_OK;
            std::string msg = gzerror(f, &err);
            if (err != Z_OK && err != Z_STREAM_END) {
                gzclose(f);
                GPO_FAIL(path << ": the compressed file is truncated or corrupt after line " << lines.size() << " ("
                              << msg << "); download it again");
            }
            break;
        }
        for (int i = 0; i < n; ++i) {
            if (buf[i] == '\n') {
                if (!cur.empty() && cur.back() == '\r') cur.pop_back();
                lines.push_back(std::move(cur));
                cur.clear();
            } else {
                cur.push_back(buf[i]);
            }
        }
    }
    gzclose(f);
    if (!cur.empty()) {
        if (cur.back() == '\r') cur.pop_back();
        lines.push_back(std::move(cur));
    }
    return lines;
}

static std::vector<std::string> split(const std::string& s, char d) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        size_t k = s.find(d, start);
        out.push_back(s.substr(start, k == std::string::npos ? std::string::npos : k - start));
        if (k == std::string::npos) break;
        start = k + 1;
    }
    return out;
}

static std::string trim(const std::string& s) {
    size_t a = s.find_first_not_of(" \t\""), b = s.find_last_not_of(" \t\"");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

static bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

static int column_of(const std::vector<std::string>& header, const std::string& name, const std::string& path) {
    for (size_t i = 0; i < header.size(); ++i)
        if (trim(header[i]) == name) return (int)i;
    std::string names;
    for (const auto& h : header) names += (names.empty() ? "" : ", ") + trim(h);
    GPO_FAIL(path << ": line 1 (header) has no column '" << name << "' (columns: " << names << ")");
}

// Adds (a, b) unless it is a duplicate (for undirected lists, in either orientation) or a self-loop.
static void add_edge(EdgeList& out, std::set<std::pair<std::string, std::string>>& seen, const std::string& a,
                     const std::string& b) {
    if (a == b) return;
    std::pair<std::string, std::string> key = (!out.directed && b < a) ? std::make_pair(b, a) : std::make_pair(a, b);
    if (seen.insert(key).second) out.edges.emplace_back(a, b);
}

EdgeList read_edge_list(const std::string& path, const EdgeListSpec& spec) {
    char d = spec.delimiter ? spec.delimiter : (ends_with(path, ".csv") || ends_with(path, ".csv.gz") ? ',' : '\t');
    std::vector<std::string> lines = read_text_lines(path);
    EdgeList out;
    out.path = path;
    out.directed = spec.directed;
    int src = spec.source_index, dst = spec.target_index, filt = -1;
    size_t first = 0;
    bool by_name = !spec.source_col.empty() || !spec.target_col.empty() || !spec.filter_col.empty();
    GPO_CHECK(spec.header || !by_name, path << ": columns named ('" << spec.source_col << "', '" << spec.target_col
                                            << "', '" << spec.filter_col << "') need a header line");
    if (spec.header) {
        GPO_CHECK(!lines.empty(), path << ": empty file, expected a header line");
        std::vector<std::string> header = split(lines[0], d);
        if (!spec.source_col.empty()) src = column_of(header, spec.source_col, path);
        if (!spec.target_col.empty()) dst = column_of(header, spec.target_col, path);
        if (!spec.filter_col.empty()) filt = column_of(header, spec.filter_col, path);
        first = 1;
    }
    GPO_CHECK(src >= 0 && dst >= 0 && src != dst, path << ": source column " << src << " and target column " << dst
                                                       << " must be distinct and >= 0");
    const size_t need = (size_t)std::max(std::max(src, dst), filt) + 1;
    std::set<std::pair<std::string, std::string>> seen;
    for (size_t l = first; l < lines.size(); ++l) {
        if (trim(lines[l]).empty()) continue;
        std::vector<std::string> f = split(lines[l], d);
        GPO_CHECK(f.size() >= need, path << ": line " << l + 1 << " has " << f.size() << " field(s), expected at least "
                                         << need << " separated by '" << (d == '\t' ? "\\t" : std::string(1, d))
                                         << "'");
        if (filt >= 0 && trim(f[filt]) != spec.filter_value) continue;
        std::string a = trim(f[src]), b = trim(f[dst]);
        GPO_CHECK(!a.empty() && !b.empty(), path << ": line " << l + 1 << " has an empty gene name");
        ++out.rows;
        add_edge(out, seen, a, b);
    }
    return out;
}

EdgeList read_complex_edges(const std::string& path, const std::string& members_col, char member_sep,
                            const std::string& filter_col, const std::string& filter_value, char delimiter) {
    std::vector<std::string> lines = read_text_lines(path);
    GPO_CHECK(!lines.empty(), path << ": empty file, expected a header line");
    std::vector<std::string> header = split(lines[0], delimiter);
    int mc = column_of(header, members_col, path);
    int fc = filter_col.empty() ? -1 : column_of(header, filter_col, path);
    const size_t need = (size_t)std::max(mc, fc) + 1;
    EdgeList out;
    out.path = path;
    out.directed = false;
    std::set<std::pair<std::string, std::string>> seen;
    for (size_t l = 1; l < lines.size(); ++l) {
        if (trim(lines[l]).empty()) continue;
        std::vector<std::string> f = split(lines[l], delimiter);
        GPO_CHECK(f.size() >= need, path << ": line " << l + 1 << " has " << f.size() << " field(s), expected at least "
                                         << need);
        if (fc >= 0 && trim(f[fc]) != filter_value) continue;
        ++out.rows;
        std::vector<std::string> members;
        for (const std::string& m : split(f[mc], member_sep))
            if (!trim(m).empty()) members.push_back(trim(m));
        for (size_t i = 0; i < members.size(); ++i)
            for (size_t j = i + 1; j < members.size(); ++j) add_edge(out, seen, members[i], members[j]);
    }
    return out;
}

std::pair<std::string, EdgeListSpec> parse_edge_list_arg(const std::string& arg, const std::string& what) {
    std::vector<std::string> parts;
    std::stringstream ss(arg);
    for (std::string p; std::getline(ss, p, ',');) parts.push_back(p);
    GPO_CHECK(!parts.empty() && !parts[0].empty(), what << ": expected PATH[,options], got '" << arg << "'");
    EdgeListSpec spec;
    for (size_t i = 1; i < parts.size(); ++i) {
        const std::string& o = parts[i];
        auto col = [&](const std::string& v, std::string& name, int& index) {
            bool digits = !v.empty() && std::all_of(v.begin(), v.end(), ::isdigit);
            GPO_CHECK(!digits || v.size() <= 6, what << " " << arg << ": column index '" << v << "' is too large");
            if (digits) index = std::stoi(v);
            else name = v;
        };
        if (o == "header") spec.header = true;
        else if (o == "undirected") spec.directed = false;
        else if (o == "directed") spec.directed = true;
        else if (o == "csv") spec.delimiter = ',';
        else if (o == "tsv") spec.delimiter = '\t';
        else if (o.rfind("source=", 0) == 0) col(o.substr(7), spec.source_col, spec.source_index);
        else if (o.rfind("target=", 0) == 0) col(o.substr(7), spec.target_col, spec.target_index);
        else GPO_FAIL(what << " " << arg << ": unknown option '" << o
                                     << "' (accepted: header, source=COL, target=COL, directed, undirected, csv, tsv)");
    }
    if (!spec.source_col.empty() || !spec.target_col.empty()) spec.header = true;
    return {parts[0], spec};
}

}  // namespace gpo::io
