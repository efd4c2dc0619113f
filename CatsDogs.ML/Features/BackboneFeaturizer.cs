using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CatsDogs.ML.Features;

/// <summary>
/// ML.NET estimator that adds a column of concatenated pooled backbone features computed from an image-path
/// column, with this library's decoding, preprocessing and feature cache. Create it with
/// <see cref="CatsDogsCatalog.ExtractBackboneFeatures"/>; compose it with any ML.NET trainer.
/// </summary>
public sealed class BackboneFeaturizer : IEstimator<BackboneFeaturizerTransformer>
{
    private readonly string _outputColumn;
    private readonly string _pathColumn;
    private readonly FeatureOptions _options;

    internal BackboneFeaturizer(string outputColumn, string pathColumn, FeatureOptions options)
    {
        _outputColumn = outputColumn;
        _pathColumn = pathColumn;
        _options = options;
    }

    /// <summary>Opens the backbones; the returned transformer owns their sessions until disposed.</summary>
    public BackboneFeaturizerTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckPathColumn(input.Schema.GetColumnOrNull(_pathColumn)?.Type);
        _options.Validate();
        var backbones = _options.OpenBackbones();
        return new BackboneFeaturizerTransformer(_outputColumn, _pathColumn, backbones, FeatureExtractor.Create(backbones, _options));
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var matches = inputSchema.Where(c => c.Name == _pathColumn).ToArray();
        if (matches.Length == 0)
        {
            throw new ArgumentException($"Image path column '{_pathColumn}' is not in the input.", nameof(inputSchema));
        }

        CheckPathColumn(matches[^1].Kind == SchemaShape.Column.VectorKind.Scalar ? matches[^1].ItemType : null);
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(_outputColumn, new VectorDataViewType(NumberDataViewType.Single, _options.Backbones.Sum(b => b.FeatureDimension)));
        var output = ShapeOf(builder.ToSchema()).Single();
        return new SchemaShape(inputSchema.Where(c => c.Name != _outputColumn).Append(output));
    }

    // ML.NET keeps SchemaShape.Column's constructor and SchemaShape.Create internal; Create is the one supported
    // way to describe a column, so it is called by name (pinned ML.NET 5.0.1;
    // BackboneFeaturizerTests.GetOutputSchema_FeedsAnMLNetTrainer covers it).
    private static SchemaShape ShapeOf(DataViewSchema schema) =>
        (SchemaShape)(typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic, [typeof(DataViewSchema)])
            ?.Invoke(null, [schema]) ?? throw new NotSupportedException("This ML.NET version has no SchemaShape.Create(DataViewSchema)."));

    private void CheckPathColumn(DataViewType? type)
    {
        if (type is not TextDataViewType)
        {
            throw new ArgumentException($"Column '{_pathColumn}' must be a text column of image paths; it is {type?.ToString() ?? "missing"}.");
        }
    }
}

/// <summary>
/// Adds the feature column. Features are computed when <see cref="Transform"/> is called (all rows at once, in
/// parallel, through the cache). A photo that cannot be decoded gets a vector of NaN, which ML.NET trainers skip,
/// and is listed in <see cref="Skipped"/>. Dispose it to release the ONNX Runtime sessions.
/// </summary>
public sealed class BackboneFeaturizerTransformer : ITransformer, IDisposable
{
    private readonly string _outputColumn;
    private readonly string _pathColumn;
    private readonly BackboneSet _backbones;
    private readonly FeatureExtractor _extractor;
    private List<SkippedImage> _skipped = [];

    internal BackboneFeaturizerTransformer(string outputColumn, string pathColumn, BackboneSet backbones, FeatureExtractor extractor)
    {
        _outputColumn = outputColumn;
        _pathColumn = pathColumn;
        _backbones = backbones;
        _extractor = extractor;
    }

    /// <summary>Photos of the last <see cref="Transform"/> that could not be decoded, with reasons.</summary>
    public IReadOnlyList<SkippedImage> Skipped => _skipped;

    /// <inheritdoc />
    public bool IsRowToRowMapper => false;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        builder.AddColumn(_outputColumn, new VectorDataViewType(NumberDataViewType.Single, _extractor.Dimension));
        return builder.ToSchema();
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var column = input.Schema.GetColumnOrNull(_pathColumn) ?? throw new ArgumentException($"Image path column '{_pathColumn}' is not in the input.");
        var paths = new List<ImageEntry>();
        using (var cursor = input.GetRowCursor([column]))
        {
            var getter = cursor.GetGetter<ReadOnlyMemory<char>>(column);
            ReadOnlyMemory<char> value = default;
            while (cursor.MoveNext())
            {
                getter(ref value);
                paths.Add(ImageEntry.FromPath(value.ToString()));
            }
        }

        var extracted = _extractor.Extract(paths, null, CancellationToken.None);
        var byPath = new Dictionary<ImageEntry, float[]>();
        for (var i = 0; i < extracted.Images.Count; i++)
        {
            byPath[extracted.Images[i]] = extracted.Features[i];
        }

        var missing = Enumerable.Repeat(float.NaN, _extractor.Dimension).ToArray();
        var rows = paths.Select(p => byPath.GetValueOrDefault(p, missing)).ToArray();
        _skipped = extracted.Skipped.ToList();
        return new FeatureDataView(input, GetOutputSchema(input.Schema), rows);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) =>
        throw new NotSupportedException("Backbone features are computed for whole data views; call Transform.");

    /// <inheritdoc />
    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        throw new NotSupportedException("Save the trained CatsDogsClassifier instead (CatsDogsClassifier.Save), which records backbones and hashes.");

    /// <inheritdoc />
    public void Dispose() => _backbones.Dispose();

    // The input's rows with one more column whose values were computed up front, indexed by row position.
    private sealed class FeatureDataView(IDataView input, DataViewSchema schema, float[][] rows) : IDataView
    {
        public float[] Row(long position) => rows[position];

        public bool CanShuffle => false;

        public DataViewSchema Schema => schema;

        public long? GetRowCount() => rows.Length;

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            var needed = columnsNeeded.ToArray();
            var inputColumns = needed.Where(c => c.Index < input.Schema.Count).Select(c => input.Schema[c.Index]);
            return new Cursor(this, input.GetRowCursor(inputColumns), needed.Any(c => c.Index == input.Schema.Count));
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            [GetRowCursor(columnsNeeded, rand)];

        private sealed class Cursor(FeatureDataView view, DataViewRowCursor inner, bool featuresActive) : DataViewRowCursor
        {
            public override DataViewSchema Schema => view.Schema;

            public override long Position => inner.Position;

            public override long Batch => inner.Batch;

            public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();

            public override bool IsColumnActive(DataViewSchema.Column column) =>
                column.Index == view.Schema.Count - 1 ? featuresActive : inner.IsColumnActive(inner.Schema[column.Index]);

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                if (column.Index < inner.Schema.Count)
                {
                    return inner.GetGetter<TValue>(inner.Schema[column.Index]);
                }

                ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
                {
                    var features = view.Row(inner.Position);
                    var editor = VBufferEditor.Create(ref value, features.Length);
                    features.CopyTo(editor.Values);
                    value = editor.Commit();
                };
                return (ValueGetter<TValue>)(Delegate)getter;
            }

            public override bool MoveNext() => inner.MoveNext();

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    inner.Dispose();
                }

                base.Dispose(disposing);
            }
        }
    }
}
