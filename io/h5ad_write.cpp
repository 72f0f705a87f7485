// h5ad_write: X and layers (dense float32, or csr_matrix groups written whole or streamed in row blocks), obs/var
// dataframes (categoricals as anndata categoricals), obsm/varm and uns (scalars, string and numeric arrays), in the
// AnnData on-disk layout (encoding-type/encoding-version attributes as anndata 0.8+ writes them).
// The file is written to path + ".tmp" and renamed over path only when complete; on error the temporary is removed.
#include <cstdint>
#include <algorithm>
#include <climits>
#include <cmath>
#include <functional>
#include <set>

#include "engine/check.h"
#include "io/atomic_file.h"  // provides: with_atomic_path
#include "io/h5ad.h"
#include "io/hdf5_util.h"

namespace gpo::io {

using h5::Id;
using h5::Where;

namespace {

// ---------------------------------------------------------------------------- validation (before any file exists)

void check_frame(const std::string& path, const std::string& key, const DataFrame& df, int64_t rows) {
    if (df.rows() != rows)
        h5::fail_file(path, key + " index has " + std::to_string(df.rows()) + " entries, expected " +
                                std::to_string(rows));
    std::string index_name = df.index_name.empty() ? "_index" : df.index_name;
    for (const std::string& name : df.order)
        if (!df.has(name)) h5::fail_file(path, key + " column-order names '" + name + "', which has no column");
    for (const auto& kv : df.columns) {
        const std::string& name = kv.first;
        const Column& c = kv.second;
        std::string field = key + " column '" + name + "'";
        if (name.empty() || name == index_name)
            h5::fail_file(path, field + ": invalid name (empty or the index name '" + index_name + "')");
        if ((int64_t)c.size() != rows)
            h5::fail_file(path, field + " has " + std::to_string(c.size()) + " values, expected " + std::to_string(rows));
        if (c.kind == Column::Kind::Categorical) {
            std::set<std::string> uniq(c.categories.begin(), c.categories.end());
            if (uniq.size() != c.categories.size()) h5::fail_file(path, field + " has duplicate categories");
            for (size_t i = 0; i < c.codes.size(); ++i)
                if (c.codes[i] < -1 || c.codes[i] >= (int32_t)c.categories.size())
                    h5::fail_file(path, field + " code " + std::to_string(c.codes[i]) + " at row " + std::to_string(i) +
                                            " is outside [-1, " + std::to_string(c.categories.size()) + ")");
        }
    }
}

void check_dense(const std::string& path, const std::string& field, size_t n, int64_t rows, int64_t cols) {
    if (rows < 0 || cols < 0 || (int64_t)n != rows * cols)
        h5::fail_file(path, field + " has " + std::to_string(n) + " values, expected rows x cols = " +
                                std::to_string(rows) + " x " + std::to_string(cols) + " = " + std::to_string(rows * cols));
}

// A CSR matrix (or one row block of one) of `rows` x `cols`: indptr from 0, non-decreasing, ending at nnz; column
// indices in [0, cols) and strictly increasing within each row.
void check_csr(const std::string& path, const std::string& field, const CsrMatrix& m, int64_t rows, int64_t cols) {
    auto bad = [&](const std::string& what) { h5::fail_file(path, field + " " + what); };
    if (m.rows != rows || m.cols != cols)
        bad("is " + std::to_string(m.rows) + " x " + std::to_string(m.cols) + ", expected " + std::to_string(rows) +
            " x " + std::to_string(cols));
    if ((int64_t)m.indptr.size() != rows + 1)
        bad("indptr has " + std::to_string(m.indptr.size()) + " entries, expected rows + 1 = " +
            std::to_string(rows + 1));
    if (m.indices.size() != m.data.size())
        bad("has " + std::to_string(m.indices.size()) + " indices but " + std::to_string(m.data.size()) + " values");
    if (m.indptr[0] != 0 || m.indptr[(size_t)rows] != m.nnz())
        bad("indptr must start at 0 and end at nnz = " + std::to_string(m.nnz()) + ", got " +
            std::to_string(m.indptr[0]) + " ... " + std::to_string(m.indptr[(size_t)rows]));
    for (int64_t r = 0; r < rows; ++r) {
        if (m.indptr[(size_t)r + 1] < m.indptr[(size_t)r]) bad("indptr decreases at row " + std::to_string(r));
        for (int64_t k = m.indptr[(size_t)r]; k < m.indptr[(size_t)r + 1]; ++k) {
            int32_t j = m.indices[(size_t)k];
            if (j < 0 || j >= cols)
                bad("row " + std::to_string(r) + " has column index " + std::to_string(j) + ", outside [0, " +
                    std::to_string(cols) + ")");
            if (k > m.indptr[(size_t)r] && j <= m.indices[(size_t)k - 1])
                bad("row " + std::to_string(r) + " has column indices not strictly increasing (" +
                    std::to_string(m.indices[(size_t)k - 1]) + " then " + std::to_string(j) + ")");
        }
    }
}

void validate(const std::string& path, const AnnDataOut& a) {
    int sources = (a.X_csr ? 1 : 0) + (a.X_blocks ? 1 : 0);
    if (sources > 1 || (sources == 1 && !a.X.empty()))
        h5::fail_file(path, "X: set only one of X (dense), X_csr and X_blocks");
    if (a.rows < 0 || a.cols < 0 || a.cols > INT32_MAX)
        h5::fail_file(path, "X: invalid shape " + std::to_string(a.rows) + " x " + std::to_string(a.cols));
    if (a.X_csr) check_csr(path, "X", *a.X_csr, a.rows, a.cols);
    if (sources == 0) check_dense(path, "X", a.X.size(), a.rows, a.cols);
    for (const auto& kv : a.layers) check_dense(path, "layers/" + kv.first, kv.second.size(), a.rows, a.cols);
    for (const auto& kv : a.csr_layers) {
        if (a.layers.count(kv.first)) h5::fail_file(path, "layers/" + kv.first + " is both a dense and a CSR layer");
        check_csr(path, "layers/" + kv.first, kv.second, a.rows, a.cols);
    }
    for (const auto& kv : a.uns_matrices)
        check_dense(path, "uns/" + kv.first, kv.second.data.size(), kv.second.rows, kv.second.cols);
    check_frame(path, "obs", a.obs, a.rows);
    check_frame(path, "var", a.var, a.cols);
    for (const auto& kv : a.obsm) {
        if (kv.second.rows != a.rows)
            h5::fail_file(path, "obsm/" + kv.first + " has " + std::to_string(kv.second.rows) + " rows, expected " +
                                    std::to_string(a.rows) + " (the number of cells)");
        check_dense(path, "obsm/" + kv.first, kv.second.data.size(), kv.second.rows, kv.second.cols);
    }
    for (const auto& kv : a.varm) {
        if (kv.second.rows != a.cols)
            h5::fail_file(path, "varm/" + kv.first + " has " + std::to_string(kv.second.rows) + " rows, expected " +
                                    std::to_string(a.cols) + " (the number of genes)");
        check_dense(path, "varm/" + kv.first, kv.second.data.size(), kv.second.rows, kv.second.cols);
    }
}

// ---------------------------------------------------------------------------- elements

void encoding(hid_t obj, const std::string& type, const std::string& version, const Where& w) {
    h5::write_attr_string(obj, "encoding-type", type, w);
    h5::write_attr_string(obj, "encoding-version", version, w);
}

Id dict_group(hid_t loc, const std::string& name, const Where& w) {
    Id g(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (!g.valid()) h5::fail(w.sub(name), "cannot create the group");
    encoding(g, "dict", "0.1.0", w.sub(name));
    return g;
}

void dense_array(hid_t loc, const std::string& name, const float* data, int64_t rows, int64_t cols, const Where& w) {
    Id d = h5::write_dataset(loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {rows, cols}, data, w);
    encoding(d, "array", "0.2.0", w.sub(name));
}

// A csr_matrix group `name` of rows x cols, its rows produced in blocks by next() (nullptr at the end); data float32,
// indices int32 (appended, so the whole matrix is never held), indptr (rows + 1 entries, kept in memory) int32 like
// the indices, int64 only beyond 2^31 - 1 stored values.
void csr_matrix(hid_t loc, const std::string& name, int64_t rows, int64_t cols,
                const std::function<const CsrMatrix*()>& next, const Where& w) {
    Where wc = w.sub(name);
    Id g(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (!g.valid()) h5::fail(wc, "cannot create the group");
    encoding(g, "csr_matrix", "0.1.0", wc);
    h5::write_attr_ints(g, "shape", {rows, cols}, wc);
    h5::Appender data(g, "data", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sizeof(float), wc);
    h5::Appender indices(g, "indices", H5T_STD_I32LE, H5T_NATIVE_INT32, sizeof(int32_t), wc);
    std::vector<int64_t> indptr(1, 0);
    indptr.reserve((size_t)rows + 1);
    while (const CsrMatrix* b = next()) {
        int64_t r0 = (int64_t)indptr.size() - 1;
        std::string field = wc.field + " row block at row " + std::to_string(r0);
        if (b->rows < 1) h5::fail_file(w.file, field + " has no rows");
        if (r0 + b->rows > rows)
            h5::fail_file(w.file, field + " has " + std::to_string(b->rows) + " rows, more than the " +
                                      std::to_string(rows) + " rows of the matrix");
        check_csr(w.file, field, *b, b->rows, cols);
        data.append(b->data.data(), b->nnz());
        indices.append(b->indices.data(), b->nnz());
        int64_t base = indptr.back();
        for (int64_t r = 0; r < b->rows; ++r) indptr.push_back(base + b->indptr[(size_t)r + 1]);
    }
    if ((int64_t)indptr.size() - 1 != rows)
        h5::fail(wc, "the row blocks had " + std::to_string(indptr.size() - 1) + " rows in all, expected " +
                         std::to_string(rows));
    data.finish();
    indices.finish();
    // indptr in the indices' type (int32) whenever nnz fits: scipy needs both arrays of one type for some
    // operations (scanpy's rank_genes_groups calls eliminate_zeros, which refuses int64 indptr with int32 indices).
    if (indptr.back() <= INT32_MAX) {
        std::vector<int32_t> small(indptr.begin(), indptr.end());
        h5::write_dataset(g, "indptr", H5T_STD_I32LE, H5T_NATIVE_INT32, {rows + 1}, small.data(), wc);
    } else {
        h5::write_dataset(g, "indptr", H5T_STD_I64LE, H5T_NATIVE_INT64, {rows + 1}, indptr.data(), wc);
    }
}

// A whole CSR matrix as one block.
void csr_matrix_whole(hid_t loc, const std::string& name, const CsrMatrix& m, const Where& w) {
    bool done = false;
    csr_matrix(loc, name, m.rows, m.cols, [&]() -> const CsrMatrix* { return done ? nullptr : (done = true, &m); }, w);
}

void string_array(hid_t loc, const std::string& name, const std::vector<std::string>& v, const Where& w) {
    Id d = h5::write_strings(loc, name, v, false, w);
    encoding(d, "string-array", "0.2.0", w.sub(name));
}

void bool_array(hid_t loc, const std::string& name, const std::vector<uint8_t>& v, const Where& w) {
    Id bt = h5::bool_type();
    std::vector<int8_t> b(v.begin(), v.end());
    for (int8_t& x : b) x = x ? 1 : 0;
    Id d = h5::write_dataset(loc, name, bt, bt, {(int64_t)b.size()}, b.data(), w);
    encoding(d, "array", "0.2.0", w.sub(name));
}

bool all_integral(const std::vector<double>& v, bool allow_nan) {
    for (double x : v) {
        if (std::isnan(x) && allow_nan) continue;
        if (!std::isfinite(x) || x != std::floor(x) || std::fabs(x) > 9.0e15) return false;
    }
    return true;
}

void numeric_column(hid_t loc, const std::string& name, const Column& c, const Where& w) {
    bool any_nan = false;
    for (double x : c.numbers) any_nan = any_nan || std::isnan(x);
    if (c.integer && all_integral(c.numbers, true)) {
        std::vector<int64_t> vals;
        std::vector<uint8_t> mask;
        for (double x : c.numbers) {
            vals.push_back(std::isnan(x) ? 0 : (int64_t)x);
            mask.push_back(std::isnan(x) ? 1 : 0);
        }
        if (!any_nan) {  // a plain int64 array
            Id d = h5::write_dataset(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {(int64_t)vals.size()}, vals.data(), w);
            encoding(d, "array", "0.2.0", w.sub(name));
            return;
        }
        // missing values: anndata's nullable-integer (pandas Int64) group of values + mask
        Id g(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
        if (!g.valid()) h5::fail(w.sub(name), "cannot create the group");
        encoding(g, "nullable-integer", "0.1.0", w.sub(name));
        Id d = h5::write_dataset(g, "values", H5T_STD_I64LE, H5T_NATIVE_INT64, {(int64_t)vals.size()}, vals.data(),
                                 w.sub(name));
        encoding(d, "array", "0.2.0", w.sub(name).sub("values"));
        bool_array(g, "mask", mask, w.sub(name));
        return;
    }
    Id d = h5::write_dataset(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {(int64_t)c.numbers.size()},
                             c.numbers.data(), w);
    encoding(d, "array", "0.2.0", w.sub(name));
}

void categorical_column(hid_t loc, const std::string& name, const Column& c, const Where& w) {
    Where wc = w.sub(name);
    Id g(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (!g.valid()) h5::fail(wc, "cannot create the group");
    encoding(g, "categorical", "0.2.0", wc);
    h5::write_attr_bool(g, "ordered", c.ordered, wc);
    // codes in the smallest signed integer type, as pandas stores them
    size_t n = c.categories.size();
    Id d;
    if (n < 128) {
        std::vector<int8_t> codes(c.codes.begin(), c.codes.end());
        d = h5::write_dataset(g, "codes", H5T_STD_I8LE, H5T_NATIVE_INT8, {(int64_t)codes.size()}, codes.data(), wc);
    } else if (n < 32768) {
        std::vector<int16_t> codes(c.codes.begin(), c.codes.end());
        d = h5::write_dataset(g, "codes", H5T_STD_I16LE, H5T_NATIVE_INT16, {(int64_t)codes.size()}, codes.data(), wc);
    } else {
        d = h5::write_dataset(g, "codes", H5T_STD_I32LE, H5T_NATIVE_INT32, {(int64_t)c.codes.size()}, c.codes.data(),
                              wc);
    }
    encoding(d, "array", "0.2.0", wc.sub("codes"));
    string_array(g, "categories", c.categories, wc);
}

void dataframe(hid_t file, const std::string& key, const DataFrame& df, const Where& root) {
    Where w = root.sub(key);
    Id g(H5Gcreate2(file, key.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (!g.valid()) h5::fail(w, "cannot create the group");
    std::vector<std::string> names = df.order;
    for (const auto& kv : df.columns)
        if (std::find(names.begin(), names.end(), kv.first) == names.end()) names.push_back(kv.first);
    std::string index_name = df.index_name.empty() ? "_index" : df.index_name;
    encoding(g, "dataframe", "0.2.0", w);
    h5::write_attr_string(g, "_index", index_name, w);
    h5::write_attr_strings(g, "column-order", names, w);
    string_array(g, index_name, df.index, w);
    for (const std::string& name : names) {
        const Column& c = df.columns.at(name);
        switch (c.kind) {
            case Column::Kind::Categorical: categorical_column(g, name, c, w); break;
            case Column::Kind::String: string_array(g, name, c.strings, w); break;
            case Column::Kind::Numeric: numeric_column(g, name, c, w); break;
            case Column::Kind::Bool: bool_array(g, name, c.bools, w); break;
        }
    }
}

void uns(hid_t file, const AnnDataOut& a, const Where& root) {
    Id g = dict_group(file, "uns", root);
    Where w = root.sub("uns");
    for (const auto& kv : a.uns_strings) {
        Id d = h5::write_strings(g, kv.first, {kv.second}, true, w);
        encoding(d, "string", "0.2.0", w.sub(kv.first));
    }
    for (const auto& kv : a.uns_numbers) {
        Id d = h5::write_dataset(g, kv.first, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}, &kv.second, w);
        encoding(d, "numeric-scalar", "0.2.0", w.sub(kv.first));
    }
    for (const auto& kv : a.uns_string_arrays) string_array(g, kv.first, kv.second, w);
    for (const auto& kv : a.uns_arrays) {
        Id d = h5::write_dataset(g, kv.first, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {(int64_t)kv.second.size()},
                                 kv.second.data(), w);
        encoding(d, "array", "0.2.0", w.sub(kv.first));
    }
    for (const auto& kv : a.uns_matrices)
        dense_array(g, kv.first, kv.second.data.data(), kv.second.rows, kv.second.cols, w);
}

void write_file(const std::string& tmp, const std::string& path, const AnnDataOut& a) {
    Where root{path, ""};
    Id fapl(H5Pcreate(H5P_FILE_ACCESS));
    if (!fapl.valid() || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0)
        h5::fail_file(path, "cannot create the file access property list");
    Id file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl));
    if (!file.valid()) h5::fail_file(path, "cannot create the temporary file " + tmp);
    {
        Id rg(H5Gopen2(file, "/", H5P_DEFAULT));
        if (!rg.valid()) h5::fail_file(path, "cannot open the root group");
        encoding(rg, "anndata", "0.1.0", Where{path, "/"});
    }
    if (a.X_blocks) {
        CsrMatrix block;
        csr_matrix(file, "X", a.rows, a.cols, [&]() -> const CsrMatrix* {
            block.rows = block.cols = 0;
            block.indptr.clear();
            block.indices.clear();
            block.data.clear();
            return a.X_blocks(block) ? &block : nullptr;
        }, root);
    } else if (a.X_csr) {
        csr_matrix_whole(file, "X", *a.X_csr, root);
    } else {
        dense_array(file, "X", a.X.data(), a.rows, a.cols, root);
    }
    {
        Id g = dict_group(file, "layers", root);
        for (const auto& kv : a.layers) dense_array(g, kv.first, kv.second.data(), a.rows, a.cols, root.sub("layers"));
        for (const auto& kv : a.csr_layers) csr_matrix_whole(g, kv.first, kv.second, root.sub("layers"));
    }
    dataframe(file, "obs", a.obs, root);
    dataframe(file, "var", a.var, root);
    {
        Id g = dict_group(file, "obsm", root);
        for (const auto& kv : a.obsm)
            dense_array(g, kv.first, kv.second.data.data(), kv.second.rows, kv.second.cols, root.sub("obsm"));
    }
    {
        Id g = dict_group(file, "varm", root);
        for (const auto& kv : a.varm)
            dense_array(g, kv.first, kv.second.data.data(), kv.second.rows, kv.second.cols, root.sub("varm"));
    }
    dict_group(file, "obsp", root);
    dict_group(file, "varp", root);
    uns(file, a, root);
    if (H5Fclose(file.release()) < 0) h5::fail_file(path, "cannot close (flush) the temporary file " + tmp);
}

}  // namespace

void h5ad_write(const std::string& path, const AnnDataOut& a) {
    validate(path, a);
    h5::silence_errors();
    with_atomic_path(path, [&](const std::string& tmp) { write_file(tmp, path, a); });
}

}  // namespace gpo::io
