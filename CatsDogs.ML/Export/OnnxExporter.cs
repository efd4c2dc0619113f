using System.Globalization;
using System.Text.Json;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Onnx;
using CatsDogs.ML.Onnx.Proto;
using CatsDogs.ML.Training;
using Google.Protobuf;
using DataType = CatsDogs.ML.Onnx.Proto.TensorProto.Types.DataType;

namespace CatsDogs.ML.Export;

/// <summary>What the exported model takes as its <c>image</c> input.</summary>
public enum OnnxInputContract
{
    /// <summary>The simplest contract that keeps the model's results: <see cref="Resized"/> where it can, else <see cref="Photo"/>.</summary>
    Auto,

    /// <summary>
    /// Photos already resized by the caller: uint8 RGB, NHWC, [N, S, S, 3] (S the backbones' shared input size), made
    /// by the backbones' shared resize (scale the short side to S and crop the centre, or squash the whole photo).
    /// Possible when every backbone has the same input size and resize, and every view is native (mirrored or not).
    /// </summary>
    Resized,

    /// <summary>
    /// The decoded photo at its own size: uint8 RGB, NHWC, [N, H, W, 3] with H and W symbolic (a batch holds photos of
    /// one size); the graph crops and resizes each view itself (bilinear).
    /// </summary>
    Photo,
}

/// <summary>How <see cref="CatsDogsClassifier.ExportOnnx"/> writes the model.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>The input contract (default: <see cref="OnnxInputContract.Auto"/>).</summary>
    public OnnxInputContract Input { get; init; } = OnnxInputContract.Auto;

    /// <summary>
    /// Also output <c>cam</c> [N, C, C]: the combined class activation map (positive = evidence for dog) on C × C cells
    /// that evenly cover the whole <c>image</c> input, as <see cref="Explain.Explainer"/> combines it: each view's map
    /// placed where that view lies in the image (mirrored maps flipped back), averaged at each cell over the views that
    /// showed it, 0 where none did. When every view shows the whole input (the pre-resized contract, or squashes only)
    /// C is the backbones' feature grid and the map is exact; otherwise C is 8
    /// times the largest feature grid (56 for ResNet18), each view's map sampled bilinearly at the cells' centres.
    /// </summary>
    public bool WithCam { get; init; }
}

/// <summary>What was exported.</summary>
/// <param name="Path">The ONNX file.</param>
/// <param name="Input">The contract its <c>image</c> input follows.</param>
/// <param name="Contract">The contract in words, as also stored in the file's <c>metadata_props</c>.</param>
/// <param name="Opset">The ONNX opset of the default domain.</param>
/// <param name="Bytes">The file's size.</param>
public sealed record OnnxExportResult(string Path, OnnxInputContract Input, string Contract, long Bytes, int Opset);

/// <summary>
/// Writes a trained classifier as one self-contained ONNX model: each backbone's graph (names prefixed per backbone,
/// carried to opset 18), its preprocessing (channel order, scaling, ResNet18's mean image), every view (a mirror is a
/// Slice with step −1; crops and squashes are Slice + Resize under the photo contract), global pooling, the average
/// over the views, the concatenation in the recorded order and the head with its scaler and calibrator folded into
/// one MatMul, Add and Sigmoid. Built with the typed ONNX messages; the head is five nodes written here, simpler than
/// converting ML.NET's model.
/// </summary>
internal static class OnnxExporter
{
    public const int Opset = 18;

    /// <summary>
    /// Cells of the photo-grid <c>cam</c> per feature-map cell: fine enough that a crop view's edge, wherever it falls,
    /// is within an eighth of a feature cell, and small (56 × 56 for ResNet18).
    /// </summary>
    public const int PhotoCamCellsPerFeatureCell = 8;
    private const string Image = "image", PhotoFloat = "photo_float";
    private static readonly string[] ReduceOps = ["ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"];

    // Operators that mean the same from opset 8 to 18 as far as inference goes (attributes that went away are dropped).
    private static readonly HashSet<string> StableSinceOpset8 =
    [
        "Add", "Sub", "Mul", "Div", "Conv", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization",
        "Flatten", "Identity", "Concat", "Gemm", "MatMul", "Sigmoid", "Tanh", "Transpose", "Reshape", "Softmax", "LeakyRelu", "HardSigmoid",
    ];

    /// <summary>Builds the model; <paramref name="files"/> are the backbones' ONNX bytes, already checked against their recorded hashes.</summary>
    /// <exception cref="ArgumentException">The contract cannot serve the model's views and backbones, or a graph cannot be carried to opset 18.</exception>
    public static (ModelProto Model, OnnxInputContract Input, string Contract) Build(
        BackboneSet backbones, IReadOnlyList<byte[]> files, IReadOnlyList<ImageView> views, IHead head, TrainingSummary? training, DateTime createdUtc, OnnxExportOptions options)
    {
        var linear = head.LinearForm ?? throw HeadTrainers.NoLinearForm(head.Kind, "ONNX export");
        var specs = backbones.Specs;
        var input = Resolve(options.Input, specs, views);
        var graph = new GraphProto { Name = "catsdogs" };
        var size = specs[0].Preprocessing.Width;
        graph.Input.Add(OnnxBuild.Value(Image, DataType.Uint8, input == OnnxInputContract.Resized ? [-1, size, size, 3] : [-1, -1, -1, 3], ["N", "H", "W", "C"]));
        var b = new GraphBuilder(graph);
        var photo = b.Node("Cast", [Image], PhotoFloat, OnnxBuild.Int("to", (long)DataType.Float));

        var features = new List<string>();
        var maps = new List<string>();
        var (weights, bias) = (linear.Weights, linear.Bias);
        var camGrid = options.WithCam ? CamGridSide(input, specs, views) : default;
        string? coverage = null;
        for (var i = 0; i < specs.Count; i++)
        {
            var spec = specs[i];
            var prefix = $"b{i}_{spec.Name}/";
            var (viewsInput, framings) = ViewBatch(b, photo, spec.Preprocessing, views, input, prefix);
            var tensor = Preprocess(b, viewsInput, spec.Preprocessing, backbones[i].Writer.MeanImage, prefix);
            // The backbone's own names live under "graph/", so none can meet a name the export gives (a MobileNet's
            // pooled output is called "features", like each backbone's view average here).
            var (pooled, map) = Merge(graph, files[i], spec, tensor, prefix + "graph/", options.WithCam);
            var flat = b.Node("Flatten", [pooled], prefix + "pooled_flat", OnnxBuild.Int("axis", 1));
            var perView = b.Node("Reshape", [flat, b.Int64s(prefix + "views_shape", views.Count, -1, spec.FeatureDimension)], prefix + "per_view");
            features.Add(b.Node("ReduceMean", [perView, b.Int64s(prefix + "view_axis", 0)], prefix + "features", OnnxBuild.Int("keepdims", 0)));
            if (map is not null)
            {
                var cam = Cam(b, map, spec, views, weights.AsSpan(backbones.Offsets[i], spec.FeatureDimension), prefix);
                if (camGrid.Placed)
                {
                    // The views are the same for every backbone: their coverage is counted with the first, as the library does.
                    var (placed, covered) = PlaceCam(b, cam, spec, views, framings, camGrid.Side, prefix);
                    cam = placed;
                    coverage ??= covered;
                }
                else
                {
                    cam = b.Node("ReduceMean", [cam, b.Int64s("axis0", 0)], prefix + "cam", OnnxBuild.Int("keepdims", 0));
                }

                maps.Add(cam);
            }
        }

        var concatenated = features.Count == 1 ? features[0] : b.Node("Concat", features, "features", OnnxBuild.Int("axis", 1));
        var (slope, offset) = (linear.Slope, linear.Offset);
        var score = b.Node("Add", [b.Node("MatMul", [concatenated, b.Floats("head_weights", [weights.Length, 1], weights)], "head_dot"), b.Floats("head_bias", [1], [(float)bias])], "score");
        var logit = b.Node("Add", [b.Node("Mul", [score, b.Floats("calibrator_slope", [1], [(float)-slope])], "calibrated_scaled"), b.Floats("calibrator_offset", [1], [(float)-offset])], "calibrated_score");
        var probability = b.Node("Reshape", [b.Node("Sigmoid", [logit], "probability_column"), b.Int64s("flat_shape", -1)], "dog_probability");
        b.Node("Cast", [b.Node("GreaterOrEqual", [probability, b.Floats("half", [], [0.5f])], "is_dog")], "label", OnnxBuild.Int("to", (long)DataType.Int64));
        graph.Output.Add(OnnxBuild.Value("dog_probability", DataType.Float, [-1], ["N"]));
        graph.Output.Add(OnnxBuild.Value("label", DataType.Int64, [-1], ["N"]));
        if (options.WithCam)
        {
            var cam = maps.Count == 1 ? maps[0] : b.Node("Sum", maps, "cam_sum");
            if (coverage is not null)
            {
                // Each cell's sum over the views that showed it, divided by their number; cells no view showed are 0 / 1.
                b.Node("Div", [cam, b.Node("Max", [coverage, b.Floats("one", [], [1f])], "cam_views_at_cell")], "cam");
            }
            else
            {
                b.Node("Identity", [cam], "cam");
            }

            graph.Output.Add(OnnxBuild.Value("cam", DataType.Float, [-1, camGrid.Side, camGrid.Side], ["N", "C", "C"]));
        }

        var contract = Describe(input, specs, views);
        var model = OnnxBuild.Model(graph, Opset, irVersion: 8);
        model.ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "";
        model.DocString = "CatsDogs.ML cats-vs-dogs classifier: P(dog) for each photo. " + contract;
        Metadata(model, "input_contract", contract);
        Metadata(model, "backbones", string.Join(", ", specs.Select((s, i) => $"{s.Name} ({s.FileName}, sha256 {backbones.Hashes[i]})")));
        Metadata(model, "views", string.Join(",", views));
        Metadata(model, "outputs", "dog_probability [N] float: P(dog); label [N] int64: 1 = dog, 0 = cat" + (options.WithCam ? $"; cam [N,{camGrid.Side},{camGrid.Side}] float: {DescribeCam(camGrid)}" : ""));
        Metadata(model, "trained_utc", createdUtc.ToString("O", CultureInfo.InvariantCulture));
        if (training is not null)
        {
            Metadata(model, "training", JsonSerializer.Serialize(new
            {
                training.TrainedOn, training.Cats, training.Dogs, excluded = training.Excluded.Count, l2 = training.Best.L2,
                cvLogLoss = training.Best.ValidationLogLoss, training.Folds, training.Seed, training.SubmissionClip,
            }));
        }

        return (model, input, contract);
    }

    private static OnnxInputContract Resolve(OnnxInputContract asked, IReadOnlyList<BackboneSpec> specs, IReadOnlyList<ImageView> views)
    {
        var first = specs[0].Preprocessing;
        var shared = specs.All(s => s.Preprocessing.Width == first.Width && s.Preprocessing.Height == first.Width && s.Preprocessing.Resize == first.Resize);
        var nativeOnly = views.All(v => v.Framing == ViewFraming.Native && v.InputSize is null);
        if (asked == OnnxInputContract.Resized && !(shared && nativeOnly))
        {
            throw new ArgumentException($"The pre-resized input (rgb{first.Width}) cannot serve this model: "
                + (!shared ? "its backbones differ in input size or resize policy" : $"its views ({string.Join(", ", views)}) frame the photo differently")
                + "; export it with the photo input (--input photo).");
        }

        if (specs.Any(s => s.Preprocessing.Width != s.Preprocessing.Height))
        {
            throw new ArgumentException("The export handles square backbone inputs only.");
        }

        return asked != OnnxInputContract.Auto ? asked : shared && nativeOnly ? OnnxInputContract.Resized : OnnxInputContract.Photo;
    }

    private static string Describe(OnnxInputContract input, IReadOnlyList<BackboneSpec> specs, IReadOnlyList<ImageView> views)
    {
        var size = specs[0].Preprocessing.Width;
        if (input == OnnxInputContract.Resized)
        {
            var resize = specs[0].Preprocessing.Resize == ResizePolicy.ShortSideCenterCrop
                ? $"scale the short side to {size} px and crop the centre {size} x {size}"
                : $"squash the whole photo to {size} x {size}";
            return $"Input 'image': uint8 RGB, NHWC, [N,{size},{size},3], N symbolic, values 0..255, photos upright (EXIF orientation applied), transparency composited over white. Resize before: {resize} (bilinear). "
                + $"Views averaged inside the graph: {string.Join(", ", views)}.";
        }

        return "Input 'image': uint8 RGB, NHWC, [N,H,W,3], the decoded photo at its own size (a batch holds photos of one size), upright, transparency over white. "
            + $"The graph crops and resizes each view itself (bilinear): {string.Join(", ", views)}; backbone inputs {string.Join(", ", specs.Select(s => $"{s.Name} {s.Preprocessing.Width}px {s.Preprocessing.Resize}"))}.";
    }

    // The views of one backbone, stacked along the batch axis in view order: [V·N, S, S, 3] floats 0..255; and for
    // each view, the part of the photo it shows (under the photo contract; the whole input under the resized one).
    private static (string Batch, ViewBox[] Boxes) ViewBatch(GraphBuilder b, string photo, ImagePreprocessing input, IReadOnlyList<ImageView> views, OnnxInputContract contract, string prefix)
    {
        var rendered = new Dictionary<string, (string Pixels, ViewBox Box)>();
        var parts = new List<string>();
        var boxes = new List<ViewBox>();
        foreach (var view in views)
        {
            var viewInput = view.InputFor(input);
            var (framing, fraction) = PhotoViews.Resolve(viewInput, view);
            var key = $"{framing}{fraction}@{viewInput.Width}";
            if (!rendered.TryGetValue(key, out var frame))
            {
                frame = contract == OnnxInputContract.Resized ? (photo, new ViewBox(key, "", "")) : Frame(b, photo, framing, fraction, viewInput.Width, prefix + key.Replace('.', '_'));
                rendered[key] = frame;
            }

            var plain = frame.Pixels;
            boxes.Add(frame.Box);

            parts.Add(view.Mirrored
                ? b.Node("Slice", [plain, b.Int64s("mirror_starts", -1), b.Int64s("mirror_ends", long.MinValue), b.Int64s("mirror_axes", 2), b.Int64s("mirror_steps", -1)], prefix + view.ToString().Replace('+', '_').Replace('.', '_').Replace('@', '_'))
                : plain);
        }

        return (parts.Count == 1 ? parts[0] : b.Node("Concat", parts, prefix + "views", OnnxBuild.Int("axis", 0)), [.. boxes]);
    }

    // Crops (centre, fraction of the short side) or takes the whole photo, then resizes to size × size, bilinear.
    private static (string Pixels, ViewBox Box) Frame(GraphBuilder b, string photo, ViewFraming framing, double fraction, int size, string name)
    {
        var source = photo;
        var hw = b.Node("Slice", [b.Node("Shape", [photo], name + "/shape"), b.Int64s("hw_start", 1), b.Int64s("hw_end", 3)], name + "/hw");
        string start, extent;
        if (framing == ViewFraming.CenterCrop)
        {
            // side = round(fraction × min(H, W)); top = (H − side) / 2; left = (W − side) / 2 (integer division).
            var shortSide = b.Node("ReduceMin", [hw, b.Int64s("axis0", 0)], name + "/short", OnnxBuild.Int("keepdims", 1));
            var side = b.Node("Cast", [b.Node("Round", [b.Node("Mul", [b.Node("Cast", [shortSide], name + "/short_f", OnnxBuild.Int("to", (long)DataType.Float)), b.Floats(name + "/fraction", [1], [(float)fraction])], name + "/side_f")], name + "/side_r")], name + "/side", OnnxBuild.Int("to", (long)DataType.Int64));
            var topLeft = b.Node("Div", [b.Node("Sub", [hw, side], name + "/margin"), b.Int64s("two", 2)], name + "/start");
            source = b.Node("Slice", [photo, topLeft, b.Node("Add", [topLeft, side], name + "/end"), b.Int64s("axes_hw", 1, 2)], name + "/crop");
            (start, extent) = (topLeft, b.Node("Expand", [side, b.Int64s("two_axes", 2)], name + "/extent"));
        }
        else
        {
            (start, extent) = (b.Int64s("origin", 0, 0), hw);
        }

        var pixels = b.Node("Resize", [source, "", "", b.Int64s($"sizes_{size}", size, size)], name + "/resized",
            OnnxBuild.String("mode", "linear"), OnnxBuild.String("coordinate_transformation_mode", "half_pixel"), OnnxBuild.Ints("axes", 1, 2));
        return (pixels, new ViewBox(name, start, extent));
    }

    // Channel order, scaling and mean image, then the backbone's layout.
    private static string Preprocess(GraphBuilder b, string views, ImagePreprocessing input, ReadOnlySpan<float> meanImage, string prefix)
    {
        var x = input.ChannelOrder == ChannelOrder.Bgr ? b.Node("Gather", [views, b.Int64s("bgr", 2, 1, 0)], prefix + "bgr", OnnxBuild.Int("axis", 3)) : views;
        var (scale, offset) = TensorWriter.Affine(input.Normalization);
        if (scale.Any(s => s != 1))
        {
            x = b.Node("Mul", [x, b.Floats(prefix + "scale", [1, 1, 1, 3], scale)], prefix + "scaled");
        }

        if (offset.Any(o => o != 0))
        {
            x = b.Node("Add", [x, b.Floats(prefix + "offset", [1, 1, 1, 3], offset)], prefix + "shifted");
        }

        if (!meanImage.IsEmpty)
        {
            // The writer's mean image is [channel, y, x]; the views here are [y, x, channel].
            int h = input.Height, w = input.Width;
            var nhwc = new float[meanImage.Length];
            for (var c = 0; c < 3; c++)
            {
                for (var p = 0; p < h * w; p++)
                {
                    nhwc[(p * 3) + c] = meanImage[(c * h * w) + p];
                }
            }

            x = b.Node("Sub", [x, b.Floats(prefix + "mean_image", [1, h, w, 3], nhwc)], prefix + "centred");
        }

        return input.Layout == TensorLayout.Nchw ? b.Node("Transpose", [x], prefix + "nchw", OnnxBuild.Ints("perm", 0, 3, 1, 2)) : x;
    }

    // Copies the backbone's graph in, every name prefixed, its image input fed from `input`; only the nodes the pooled
    // output (and the feature map) need are kept; operators are carried to opset 18.
    private static (string Pooled, string? Map) Merge(GraphProto target, byte[] file, BackboneSpec spec, string input, string prefix, bool withMap)
    {
        var source = ModelProto.Parser.ParseFrom(file);
        var opset = source.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(1).Max();
        var needed = new HashSet<string>(StringComparer.Ordinal) { spec.PooledOutputName };
        if (withMap)
        {
            needed.Add(spec.FeatureMapName ?? throw new ArgumentException($"Backbone '{spec.Name}' names no feature map, so --with-cam cannot be exported."));
        }

        var keep = new List<NodeProto>();
        foreach (var node in source.Graph.Node.Reverse())
        {
            if (node.Output.Any(needed.Contains))
            {
                keep.Add(node);
                foreach (var i in node.Input.Where(i => i.Length > 0))
                {
                    needed.Add(i);
                }
            }
        }

        keep.Reverse();
        string Rename(string name) => name.Length == 0 ? name : name == spec.InputName ? input : prefix + name;
        foreach (var initializer in source.Graph.Initializer.Where(t => needed.Contains(t.Name)))
        {
            initializer.Name = Rename(initializer.Name);
            target.Initializer.Add(initializer);
        }

        var unnamed = 0;
        foreach (var node in keep)
        {
            var copy = Upgrade(node, opset, spec, target, prefix);
            for (var i = 0; i < copy.Input.Count; i++)
            {
                copy.Input[i] = Rename(copy.Input[i]);
            }

            for (var i = 0; i < copy.Output.Count; i++)
            {
                copy.Output[i] = Rename(copy.Output[i]);
            }

            // Node names are optional in ONNX but must differ where given: unnamed nodes (MobileNets have many) get a number.
            copy.Name = copy.Name.Length > 0 ? prefix + copy.Name : $"{prefix}#{unnamed++}";
            target.Node.Add(copy);
        }

        return (Rename(spec.PooledOutputName), withMap ? Rename(spec.FeatureMapName!) : null);
    }

    // One node as opset 18 wants it: reduce ops take their axes as an input (since 18), attributes that went away are
    // dropped; graphs older than opset 13 may use only operators whose meaning did not change since.
    private static NodeProto Upgrade(NodeProto node, long opset, BackboneSpec spec, GraphProto target, string prefix)
    {
        var copy = node.Clone();
        if (copy.Domain is not ("" or "ai.onnx"))
        {
            throw new ArgumentException($"Backbone '{spec.Name}' uses the operator {copy.Domain}.{copy.OpType}, which the export does not carry.");
        }

        if (opset < 13 && !StableSinceOpset8.Contains(copy.OpType))
        {
            throw new ArgumentException($"Backbone '{spec.Name}' is an opset {opset} graph using {copy.OpType}, whose meaning changed before opset {Opset}; re-export it at opset 13 or later.");
        }

        if (copy.OpType == "BatchNormalization")
        {
            foreach (var gone in copy.Attribute.Where(a => a.Name is "spatial" or "is_test" or "consumed_inputs").ToArray())
            {
                copy.Attribute.Remove(gone);
            }
        }

        if (ReduceOps.Contains(copy.OpType) && copy.Attribute.FirstOrDefault(a => a.Name == "axes") is { } axes)
        {
            // The input keeps the graph's own naming; the caller prefixes it like every other name.
            var name = $"{(copy.Name.Length > 0 ? copy.Name : copy.Output[0])}/axes";
            target.Initializer.Add(OnnxBuild.Int64Tensor(prefix + name, [axes.Ints.Count], [.. axes.Ints]));
            copy.Attribute.Remove(axes);
            copy.Input.Add(name);
        }

        return copy;
    }

    // One backbone's class activation maps on its grid for the exported batch: Σ_k w_k·A_k per view (a 1 × 1
    // convolution with the head's folded weights), mirrored views flipped back: [V, N, G, G].
    private static string Cam(GraphBuilder b, string map, BackboneSpec spec, IReadOnlyList<ImageView> views, ReadOnlySpan<float> weights, string prefix)
    {
        var nchw = spec.Preprocessing.Layout == TensorLayout.Nchw ? map : b.Node("Transpose", [map], prefix + "map_nchw", OnnxBuild.Ints("perm", 0, 3, 1, 2));
        var cam = b.Node("Conv", [nchw, b.Floats(prefix + "cam_weights", [1, spec.FeatureDimension, 1, 1], weights)], prefix + "cam_views");
        var grid = b.Node("Reshape", [cam, b.Int64s(prefix + "cam_shape", views.Count, -1, 0, 0)], prefix + "cam_per_view", OnnxBuild.Int("allowzero", 0));
        // [V, N, 1, G, G] would need 5-D; instead split the views, flip the mirrored ones, and average.
        var perView = Enumerable.Range(0, views.Count).Select(v =>
        {
            var one = b.Node("Slice", [grid, b.Int64s($"v{v}", v), b.Int64s($"v{v + 1}", v + 1), b.Int64s("axis0", 0)], $"{prefix}cam_view{v}");
            return views[v].Mirrored
                ? b.Node("Slice", [one, b.Int64s("mirror_starts", -1), b.Int64s("mirror_ends", long.MinValue), b.Int64s("last_axis", 3), b.Int64s("mirror_steps", -1)], $"{prefix}cam_view{v}_unmirrored")
                : one;
        }).ToArray();
        return perView.Length == 1 ? perView[0] : b.Node("Concat", perView, prefix + "cam_views_stacked", OnnxBuild.Int("axis", 0));
    }

    // The cam's grid: the feature grid where every view shows the whole image input and the backbones share one grid
    // (each view's map then already lies on the image's own grid: exact), else a finer grid over the image onto
    // which each view's map is placed.
    private static (int Side, bool Placed) CamGridSide(OnnxInputContract input, IReadOnlyList<BackboneSpec> specs, IReadOnlyList<ImageView> views)
    {
        var grids = specs.Select(s => s.FeatureMapHeight is { } h && (s.FeatureMapWidth ?? h) == h ? h : -1).Distinct().ToArray();
        var whole = input == OnnxInputContract.Resized || specs.All(s => views.All(v => PhotoViews.Resolve(s.Preprocessing, v).Framing == ViewFraming.Squash));
        if (whole && grids.Length == 1)
        {
            return (grids[0], false); // -1 where the spec does not say: the graph's own grid
        }

        if (grids.Contains(-1))
        {
            throw new ArgumentException($"Backbone '{specs.First(s => !(s.FeatureMapHeight is { } h && (s.FeatureMapWidth ?? h) == h)).Name}' names no square feature-map grid (FeatureMapHeight, FeatureMapWidth), which --with-cam needs to place the maps of views ({string.Join(", ", views)}) that show different parts of the photo.");
        }

        if (views.Any(v => v.InputSize is not null))
        {
            throw new ArgumentException($"The views {string.Join(", ", views)} include one at another input size, whose map has another grid; --with-cam exports views at the backbones' own sizes only.");
        }

        return (PhotoCamCellsPerFeatureCell * grids.Max(), true);
    }

    private static string DescribeCam((int Side, bool Placed) grid) => grid.Placed
        ? $"class activation map, positive = dog, on {grid.Side} x {grid.Side} cells evenly covering the whole image input (cell (i,j) centred at ((j+0.5)W/{grid.Side}, (i+0.5)H/{grid.Side})); each view's map placed where the view lies in the image (mirrors flipped back, bilinear) and averaged over the views that show the cell, 0 where none does"
        : $"class activation map, positive = dog, on the backbones' {grid.Side} x {grid.Side} feature grid, which evenly covers the whole image input (every view shows all of it); the mean of the views' maps, mirrors flipped back";

    // One backbone's per-view maps [V, N, G, G] placed on the image's side × side grid, as the library's CamUpsampling
    // does at pixels: a cell centre at image point p lies at view pixel (p − start) · S / extent, i.e. at grid
    // coordinate g = (p − start) · G / extent − ½; the map there is bilinear with g clamped to [0, G − 1], and the view
    // shows the cell when −½ ≤ g ≤ G − ½. Along each axis that is a [side, G] matrix of tent weights (zero where the
    // view does not show the cell), so placing a map is two MatMuls. Views that show the same part of the image are
    // summed first (mirrored ones already flipped back). Returns the views' sum at each cell [N, side, side] and the
    // number of views that show each cell [1, side, side].
    private static (string Placed, string Coverage) PlaceCam(GraphBuilder b, string cams, BackboneSpec spec, IReadOnlyList<ImageView> views, ViewBox[] boxes, int side, string prefix)
    {
        var g = spec.FeatureMapHeight!.Value;
        var centres = b.Floats($"cam_centres_{side}", [1, side, 1], Enumerable.Range(0, side).Select(j => (j + 0.5f) / side).ToArray());
        var cells = b.Floats($"cam_cells_{g}", [1, 1, g], Enumerable.Range(0, g).Select(k => (float)k).ToArray());
        var axis = b.Int64s("cam_axis_shape", 2, 1, 1);
        var placed = new List<string>();
        var coverage = new List<string>();
        foreach (var group in Enumerable.Range(0, views.Count).GroupBy(v => boxes[v].Name))
        {
            var box = boxes[group.First()];
            var name = box.Name + "/cam";
            var maps = group.Select(v => b.Node("Slice", [cams, b.Int64s($"v{v}", v), b.Int64s($"v{v + 1}", v + 1), b.Int64s("axis0", 0)], $"{name}_view{v}")).ToArray();
            var sum = b.Node("Squeeze", [maps.Length == 1 ? maps[0] : b.Node("Sum", maps, name + "_sum"), b.Int64s("axis0", 0)], name + "_grid");

            string Float(string int64s, string what) => b.Node("Reshape", [b.Node("Cast", [int64s], $"{name}_{what}_f", OnnxBuild.Int("to", (long)DataType.Float)), axis], $"{name}_{what}");
            var imageSize = Float(b.Node("Slice", [b.Node("Shape", [PhotoFloat], name + "_shape"), b.Int64s("hw_start", 1), b.Int64s("hw_end", 3)], name + "_hw"), "image");
            var viewPixels = b.Node("Sub", [b.Node("Mul", [centres, imageSize], name + "_points"), Float(box.Start, "start")], name + "_in_view");
            var grid = b.Node("Sub", [b.Node("Div", [b.Node("Mul", [viewPixels, b.Floats($"cam_g_{g}", [], [g])], name + "_scaled"), Float(box.Extent, "extent")], name + "_on_grid"), b.Floats("half", [], [0.5f])], name + "_g");
            var shown = b.Node("Cast", [b.Node("And", [
                b.Node("GreaterOrEqual", [grid, b.Floats("minus_half", [], [-0.5f])], name + "_after_start"),
                b.Node("LessOrEqual", [grid, b.Floats($"cam_g_{g}_end", [], [g - 0.5f])], name + "_before_end")], name + "_shown_b")], name + "_shown", OnnxBuild.Int("to", (long)DataType.Float));
            var clamped = b.Node("Clip", [grid, b.Floats("zero", [], [0f]), b.Floats($"cam_g_{g}_last", [], [g - 1])], name + "_clamped");
            var tent = b.Node("Relu", [b.Node("Sub", [b.Floats("one", [], [1f]), b.Node("Abs", [b.Node("Sub", [clamped, cells], name + "_offsets")], name + "_distance")], name + "_one_minus")], name + "_tent");
            var weights = b.Node("Mul", [tent, shown], name + "_weights"); // [2 (y, x), side, G]
            var rows = b.Node("Gather", [weights, b.Int64s("first", 0)], name + "_rows"); // [1, side, G]
            var columns = b.Node("Transpose", [b.Node("Gather", [weights, b.Int64s("second", 1)], name + "_columns_t")], name + "_columns", OnnxBuild.Ints("perm", 0, 2, 1));
            placed.Add(b.Node("MatMul", [b.Node("MatMul", [rows, sum], name + "_rows_placed"), columns], name + "_placed"));
            var shownRows = b.Node("Gather", [shown, b.Int64s("first", 0)], name + "_shown_rows"); // [1, side, 1]
            var shownColumns = b.Node("Transpose", [b.Node("Gather", [shown, b.Int64s("second", 1)], name + "_shown_columns_t")], name + "_shown_columns", OnnxBuild.Ints("perm", 0, 2, 1));
            var views1 = b.Floats($"cam_views_{group.Count()}", [], [group.Count()]);
            coverage.Add(b.Node("Mul", [b.Node("Mul", [shownRows, shownColumns], name + "_shown_cells"), views1], name + "_coverage"));
        }

        return (placed.Count == 1 ? placed[0] : b.Node("Sum", placed, prefix + "cam_placed"),
            coverage.Count == 1 ? coverage[0] : b.Node("Sum", coverage, prefix + "cam_coverage"));
    }

    // The part of the image a view shows, in image pixels along (y, x): int64 [2] tensors; empty under the resized contract.
    private readonly record struct ViewBox(string Name, string Start, string Extent);

    private static void Metadata(ModelProto model, string key, string value) =>
        model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });

    // Adds nodes and constant initializers to a graph, each constant once.
    private sealed class GraphBuilder(GraphProto graph)
    {
        private readonly HashSet<string> _constants = new(StringComparer.Ordinal);

        public string Node(string op, IEnumerable<string> inputs, string output, params AttributeProto[] attributes)
        {
            graph.Node.Add(OnnxBuild.Node(op, inputs, [output], attributes));
            return output;
        }

        public string Int64s(string name, params long[] values)
        {
            if (_constants.Add(name))
            {
                graph.Initializer.Add(OnnxBuild.Int64Tensor(name, [values.Length], values));
            }

            return name;
        }

        public string Floats(string name, long[] dims, ReadOnlySpan<float> values)
        {
            if (_constants.Add(name))
            {
                graph.Initializer.Add(OnnxBuild.FloatTensor(name, dims, values));
            }

            return name;
        }
    }
}
