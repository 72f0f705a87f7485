// h5ad_write: dense float32 X and layers, obs/var dataframes (categoricals as anndata categoricals), obsm/varm and
// uns, in the AnnData on-disk layout (encoding-type/encoding-version attributes as anndata 0.8+ writes them).
// The file is written to path + ".tmp" and renamed over path only when complete; on error the temporary is removed.
#include <algorithm>
#include <cmath>
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

void validate(const std::string& path, const AnnDataOut& a) {
    check_dense(path, "X", a.X.size(), a.rows, a.cols);
    for (const auto& kv : a.layers) check_dense(path, "layers/" + kv.first, kv.second.size(), a.rows, a.cols);
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
    dense_array(file, "X", a.X.data(), a.rows, a.cols, root);
    {
        Id g = dict_group(file, "layers", root);
        for (const auto& kv : a.layers) dense_array(g, kv.first, kv.second.data(), a.rows, a.cols, root.sub("layers"));
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
