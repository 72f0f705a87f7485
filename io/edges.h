// Reading reference gene networks for the biological GRN evaluation (docs/model.md D11): delimited edge lists (TSV or
// CSV, optional header, source/target columns by name or index, directed or undirected, plain or gzip) such as
// TRRUST and STRING, and protein-complex tables (CORUM) turned into undirected member pairs.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace gpo::io {

struct EdgeListSpec {
    char delimiter = 0;                    // 0: ',' for *.csv / *.csv.gz, else '\t'
    bool header = false;                   // the first line names the columns
    std::string source_col, target_col;    // column names (need header); empty: use the indices below
    int source_index = 0, target_index = 1;
    bool directed = true;
    std::string filter_col;                // optional: keep rows whose filter_col equals filter_value (needs header)
    std::string filter_value;
};

struct EdgeList {
    std::string path;
    bool directed = true;
    // Distinct edges in file order (gene symbols). Undirected edges are stored once, as read; duplicate rows
    // (both orientations of an undirected edge, or TRRUST's one row per mode of regulation) are dropped.
    std::vector<std::pair<std::string, std::string>> edges;
    int64_t rows = 0;  // data rows read (after the filter)
};

// Throws gpo::Error naming the file (and line) for a missing file, an unknown column name, or a line with too
// few fields. Lines that are empty are skipped.
EdgeList read_edge_list(const std::string& path, const EdgeListSpec& spec);

// A complex table (header required): each kept row lists its members in members_col separated by member_sep;
// every unordered pair of distinct members becomes an undirected edge (e.g. CORUM: members_col
// "subunits(Gene name)", member_sep ';', filter_col "Organism", filter_value "Human").
EdgeList read_complex_edges(const std::string& path, const std::string& members_col, char member_sep = ';',
                            const std::string& filter_col = "", const std::string& filter_value = "",
                            char delimiter = '\t');

// Parses "PATH[,header][,source=COL][,target=COL][,undirected|directed][,csv|tsv]" (COL: a name or a 0-based
// index), the form `grn --reference` and `model.grn_prior` take. Throws naming `what` and the option on an unknown
// one.
std::pair<std::string, EdgeListSpec> parse_edge_list_arg(const std::string& arg, const std::string& what);

// All lines of a plain or gzip-compressed text file (zlib reads both transparently), without line terminators.
std::vector<std::string> read_text_lines(const std::string& path);

}  // namespace gpo::io
