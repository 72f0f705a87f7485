// AnnData .h5ad reading and writing with the HDF5 C API: X (dense 2-D dataset, or csr_matrix / csc_matrix group)
// or a layer read into CSR float32 without ever densifying, obs/var dataframes (categorical, string, numeric,
// boolean and nullable columns), uns scalars and string arrays; writing X and layers (dense float32, or anndata
// csr_matrix groups: whole, or X streamed in row blocks so it is never held whole), obs/var, obsm/varm and uns
// (scalars, string arrays, numeric arrays and matrices), atomically (path + ".tmp", then rename). Errors are
// gpo::Error naming the file and the field.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gpo::io {

// A sparse matrix in compressed sparse row form: row r holds entries [indptr[r], indptr[r+1]).
// indptr is (rows + 1), indices and data are (nnz). CSC and dense files are converted to this on read.
struct CsrMatrix {
    int64_t rows = 0, cols = 0;
    std::vector<int64_t> indptr;
    std::vector<int32_t> indices;
    std::vector<float> data;
    int64_t nnz() const { return (int64_t)data.size(); }
};

// One dataframe column. Exactly one of the value vectors is filled, chosen by kind.
struct Column {
    enum class Kind { Categorical, String, Numeric, Bool };
    Kind kind = Kind::Numeric;
    std::vector<std::string> categories;  // Categorical: the category labels
    std::vector<int32_t> codes;           // Categorical: index into categories per row, -1 = missing
    bool ordered = false;                 // Categorical: an ordered categorical
    std::vector<std::string> strings;     // String
    std::vector<double> numbers;          // Numeric; NaN = missing (nullable integers; a nullable boolean
                                          // column with missing values is read as Numeric 0/1/NaN)
    bool integer = false;                 // Numeric: stored as integers (written back as int64)
    std::vector<uint8_t> bools;           // Bool: 0 or 1

    size_t size() const;
    bool missing(size_t i) const;    // a -1 code or a NaN number
    std::string label(size_t i) const;  // the category, string, number ("13", "0.5") or "True"/"False"; "" if missing

    static Column categorical(std::vector<std::string> categories, std::vector<int32_t> codes, bool ordered = false);
    // Categorical from per-row labels; categories sorted (as pandas does), "" = missing.
    static Column categorical_from_labels(const std::vector<std::string>& labels);
    static Column string(std::vector<std::string> values);
    static Column numeric(std::vector<double> values, bool integer = false);
    static Column boolean(std::vector<uint8_t> values);
};

// A dataframe (obs or var): a string index, columns by name, and their order.
struct DataFrame {
    std::string index_name = "_index";  // the index dataset's name in the file
    std::vector<std::string> index;
    std::vector<std::string> order;     // column names in file order (only the columns read, when filtered)
    std::map<std::string, Column> columns;
    std::string source = "dataframe";   // "<file>: obs" after reading, for error messages

    int64_t rows() const { return (int64_t)index.size(); }
    bool has(const std::string& name) const { return columns.count(name) > 0; }
    // Throws gpo::Error "<file>: obs column 'x' not found (available: a, b)".
    const Column& at(const std::string& name) const;
    void add(const std::string& name, Column c);  // adds or replaces; new names are appended to order
};

// A column list holding only this name reads the index and no columns: obs_columns = {kNoColumns}.
inline const std::string kNoColumns = "__none__";

struct H5adReadOptions {
    std::string layer;                     // "" = X, otherwise layers/<layer>
    std::vector<std::string> obs_columns;  // empty = all, {kNoColumns} = none; a missing name is an error
    std::vector<std::string> var_columns;  // empty = all, {kNoColumns} = none
    bool read_uns = true;
    // When set, X (or the layer) is not kept: it is handed to this function in consecutive row blocks (each a
    // CsrMatrix of block.rows rows, all columns, indptr from 0; about a million entries per block) and AnnData::X
    // keeps only its rows and cols. CSR and dense matrices are read block by block (memory bounded by a block); a
    // CSC matrix is converted whole first. Errors thrown by the function propagate.
    std::function<void(const CsrMatrix& block)> X_blocks;
};

struct AnnData {
    CsrMatrix X;          // X or the requested layer
    std::string matrix;   // which one was read: "X" or "layers/<name>"
    DataFrame obs, var;
    std::map<std::string, std::string> uns_strings;                     // scalar strings; nested keys "a/b"
    std::map<std::string, double> uns_numbers;                          // scalar numbers and booleans (0/1)
    std::map<std::string, std::vector<std::string>> uns_string_arrays;  // 1-D string arrays
};

AnnData h5ad_read(const std::string& path, const H5adReadOptions& opt = {});

// A dense row-major float32 matrix (rows x cols), for obsm/varm.
struct DenseMatrix {
    int64_t rows = 0, cols = 0;
    std::vector<float> data;
};

// Produces a CSR matrix in row blocks, in order: each call either fills `block` with the next rows (block.rows >= 1,
// block.cols = the matrix's cols, indptr starting at 0) and returns true, or returns false when every row has been
// produced. The writer checks each block as a whole CSR matrix would be checked.
using CsrBlockSource = std::function<bool(CsrMatrix& block)>;

// X is written from exactly one of: X_blocks (streamed), X_csr (whole), or the dense X. CSR matrices are written as
// anndata's csr_matrix group (data float32, indices int32, indptr int64, attribute shape); within a row the column
// indices must be strictly increasing (scipy's canonical form: sorted, no duplicates). Explicit zeros are kept.
struct AnnDataOut {
    int64_t rows = 0, cols = 0;
    std::vector<float> X;                                // (rows x cols), row-major; used when neither below is set
    std::optional<CsrMatrix> X_csr;                      // X as CSR (rows x cols)
    CsrBlockSource X_blocks;                             // X as CSR produced in row blocks (never held whole)
    std::map<std::string, std::vector<float>> layers;    // each (rows x cols), row-major
    std::map<std::string, CsrMatrix> csr_layers;         // each (rows x cols) CSR; names distinct from layers'
    DataFrame obs, var;                                  // obs.index has rows entries, var.index cols entries
    std::map<std::string, DenseMatrix> obsm, varm;       // obsm: rows x k, varm: cols x k
    std::map<std::string, std::string> uns_strings;
    std::map<std::string, double> uns_numbers;           // written as float64 scalars
    std::map<std::string, std::vector<std::string>> uns_string_arrays;
    std::map<std::string, std::vector<double>> uns_arrays;  // 1-D float64 arrays (numpy arrays in anndata)
    std::map<std::string, DenseMatrix> uns_matrices;        // 2-D float32 arrays (row-major)
};

// Writes path + ".tmp" and renames it to path, so path is either the old file or the complete new one; on any
// error the temporary file is removed and gpo::Error is thrown.
void h5ad_write(const std::string& path, const AnnDataOut& a);

}  // namespace gpo::io
