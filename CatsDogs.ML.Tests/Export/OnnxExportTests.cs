using Google.Protobuf;
using CatsDogs.ML.Data;
using CatsDogs.ML.Export;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Onnx.Proto;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using SkiaSharp;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Export;

/// <summary>The exported ONNX model on the tiny synthetic model: valid, self-contained, and equal to the library.</summary>
[Collection("tiny model")]
[Trait("Category", Category.Unit)]
public class OnnxExportTests(TinyModel tiny, ITestOutputHelper output)
{
    private static readonly IReadOnlyList<ImageView> SquashAndCrop = ImageView.ParseList("squash,squash+mirror,crop0.875,crop0.875+mirror");

    [Fact]
    public void Export_IsValidOnnx_WithItsContractInTheMetadata()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var result = tiny.Classifier.ExportOnnx(dir.File("tiny.onnx"));
        Assert.Equal(OnnxInputContract.Resized, result.Input);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(result.Path));
        Assert.Equal(8, model.IrVersion);
        Assert.Equal(18, Assert.Single(model.OpsetImport).Version);
        Assert.Equal(["image"], model.Graph.Input.Select(i => i.Name));
        Assert.Equal(["dog_probability", "label"], model.Graph.Output.Select(o => o.Name));
        AssertWellFormed(model.Graph);
        var metadata = model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        Assert.Contains("[N,32,32,3]", metadata["input_contract"], StringComparison.Ordinal);
        Assert.Contains("crop the centre", metadata["input_contract"], StringComparison.Ordinal);
        Assert.Contains("tiny (tiny.onnx, sha256 ", metadata["backbones"], StringComparison.Ordinal);
        Assert.Equal("native,native+mirror", metadata["views"]);
        Assert.Contains("\"TrainedOn\":24", metadata["training"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void ResizedContract_FedTheLibrarysPixels_EqualsPredict_WithAndWithoutGraphOptimisation(int batch)
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var path = tiny.Classifier.ExportOnnx(dir.File("tiny.onnx")).Path;
        var photos = Directory.GetFiles(tiny.PhotosDirectory).Order(StringComparer.Ordinal).Take(batch).ToArray();
        var expected = photos.Select(p => tiny.Classifier.Predict(p).DogProbability).ToArray();
        var input = photos.SelectMany(p => ResizedRgb(p, TinyModel.Spec.Preprocessing)).ToArray();
        foreach (var level in new[] { GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_ALL })
        {
            var (p, label) = Run(path, input, [batch, 32, 32, 3], level);
            Assert.Equal(expected, p, new Tolerance(1e-4));
            Assert.Equal(expected.Select(e => e >= 0.5f ? 1L : 0L), label);
        }
    }

    [Fact]
    public void PhotoContract_FedTheDecodedPhoto_IsCloseToPredict()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var result = tiny.Classifier.ExportOnnx(dir.File("photo.onnx"), new OnnxExportOptions { Input = OnnxInputContract.Photo });
        Assert.Equal(OnnxInputContract.Photo, result.Input);
        var worst = 0.0;
        using var exported = new ExportedModel(result.Path);
        foreach (var photo in Directory.GetFiles(tiny.PhotosDirectory))
        {
            var (rgb, w, h) = DecodedRgb(photo);
            var p = exported.Run(rgb, [1, h, w, 3]).P[0];
            worst = Math.Max(worst, Math.Abs(p - tiny.Classifier.Predict(photo).DogProbability));
        }

        output.WriteLine($"photo contract: largest |ΔP(dog)| over 24 photos {worst:E2}");
        Assert.True(worst < 0.05, $"largest |ΔP| {worst}");
    }

    [Fact]
    public void TwoBackbones_WhoseGraphsUseTheExportersOwnNames_StayDistinct_AndScoreAsPredict()
    {
        // MobileNets name their pooled output "features", the name the export gives each backbone's view average:
        // a backbone graph's names must never meet the export's own.
        using var dir = TestEnvironment.NewTempDirectory();
        var clash = TinyModel.Spec with { Name = "clash", FileName = "clash.onnx", PooledOutputName = "features", FeatureMapName = "per_view" };
        File.Copy(Path.Combine(tiny.ModelsDirectory, TinyModel.Spec.FileName), dir.File(TinyModel.Spec.FileName));
        var graph = Backbones.SyntheticBackbone.Build(clash, dynamicBatch: true);
        foreach (var node in graph.Graph.Node)
        {
            node.Name = ""; // as in the MobileNet files: ONNX allows unnamed nodes
        }

        File.WriteAllBytes(dir.File(clash.FileName), graph.ToByteArray());
        using var fused = new CatsDogsTrainer(tiny.Options with { Backbones = [TinyModel.Spec, clash], ModelsDirectory = dir.Path }).Train(ImageDataset.FromFolder(tiny.PhotosDirectory));
        var path = fused.ExportOnnx(dir.File("fused.onnx")).Path;
        AssertWellFormed(ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph);
        var photos = Directory.GetFiles(tiny.PhotosDirectory).Order(StringComparer.Ordinal).Take(8).ToArray();
        var (p, _) = Run(path, photos.SelectMany(x => ResizedRgb(x, TinyModel.Spec.Preprocessing)).ToArray(), [8, 32, 32, 3], GraphOptimizationLevel.ORT_ENABLE_ALL);
        Assert.Equal(photos.Select(x => fused.Predict(x).DogProbability), p, new Tolerance(1e-4));
    }

    [Fact]
    public void SquashAndCropViews_ExportThePhotoContract_WhichCropsSquashesAndMirrorsInTheGraph_CloseToPredict()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        using var classifier = new CatsDogsTrainer(tiny.Options with { Views = ImageView.ParseList("squash,squash+mirror,crop0.875,crop0.875+mirror") }).Train(ImageDataset.FromFolder(tiny.PhotosDirectory));
        var result = classifier.ExportOnnx(dir.File("defaults.onnx"));
        Assert.Equal(OnnxInputContract.Photo, result.Input); // one pre-resized input cannot serve a squash and a crop
        Assert.Contains("crop0.875+mirror", result.Contract, StringComparison.Ordinal);
        var worst = 0.0;
        using var exported = new ExportedModel(result.Path);
        foreach (var photo in Directory.GetFiles(tiny.PhotosDirectory))
        {
            var (rgb, w, h) = DecodedRgb(photo);
            var p = exported.Run(rgb, [1, h, w, 3]).P[0];
            worst = Math.Max(worst, Math.Abs(p - classifier.Predict(photo).DogProbability));
        }

        output.WriteLine($"squash and crop views, photo contract: largest |ΔP(dog)| over 24 photos {worst:E2}");
        Assert.True(worst < 0.05, $"largest |ΔP| {worst}");
    }

    [Fact]
    public void WithCam_TheMapsGridMeanIsTheScoreMinusTheBias()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var path = tiny.Classifier.ExportOnnx(dir.File("cam.onnx"), new OnnxExportOptions { WithCam = true }).Path;
        var photo = Path.Combine(tiny.PhotosDirectory, "dog.3.png");
        using var explainer = tiny.Classifier.CreateExplainer();
        var explained = explainer.Explain(photo);
        using var session = new InferenceSession(path);
        using var value = OrtValue.CreateTensorValueFromMemory(ResizedRgb(photo, TinyModel.Spec.Preprocessing), [1, 32, 32, 3]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["image"], [value], ["cam"]);
        Assert.Equal([1L, 4, 4], outputs[0].GetTensorTypeAndShape().Shape);
        var cam = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        Assert.Equal(explained.Score - explained.Bias, cam.Average(), 4);
        Assert.Equal(explained.Heatmaps[0].Values, cam, new Tolerance(1e-4));
    }

    [Fact]
    public void WithCam_ViewsShowingDifferentParts_PlacesEachMapInThePhoto_AsExplainDoes()
    {
        // Squash and crop0.875 (+ mirrors: the defaults before 0.3) on a 96 × 32 photo: the squash shows it all, the crop the 28 × 28 centre
        // from x = 34, y = 2. The cam's 32 × 32 cells are 3 × 1 pixels, so each cell centre is a pixel centre where the
        // library's map (Explanation.Combined) has its value. A left-to-right gradient makes every view's map differ
        // across the photo (a misplaced or unflipped map shows) while linear resampling renders it the same in the
        // graph and in the library.
        using var dir = TestEnvironment.NewTempDirectory();
        using var classifier = new CatsDogsTrainer(tiny.Options with { Views = SquashAndCrop }).Train(ImageDataset.FromFolder(tiny.PhotosDirectory));
        var path = classifier.ExportOnnx(dir.File("cam.onnx"), new OnnxExportOptions { WithCam = true }).Path;
        var photo = dir.File("gradient.png");
        File.WriteAllBytes(photo, TestImages.Encode(96, 32, (x, y) => new SKColor((byte)(255 - (x * 255 / 95)), (byte)(40 + (y * 4)), (byte)(x * 255 / 95))));

        var (cam, side) = ExportedCam(path, photo, decodeSize: 37);
        using var explainer = classifier.CreateExplainer();
        var explained = explainer.Explain(photo);
        Assert.Equal((96, 32, 32), (explained.Width, explained.Height, side));
        var sign = explained.DogProbability >= 0.5f ? 1 : -1;
        var library = new float[side * side];
        for (var i = 0; i < side; i++)
        {
            for (var j = 0; j < side; j++)
            {
                library[(i * side) + j] = sign * explained.Combined[(i * 96) + (3 * j) + 1];
            }
        }

        var scale = library.Max(Math.Abs);
        var worst = cam.Zip(library, (a, e) => Math.Abs(a - e)).Max();
        output.WriteLine($"squash and crop views, 96 x 32 gradient: cam vs Explain on the 32 x 32 grid, largest |Δ| {worst:E2} of max |map| {scale:E2}");
        Assert.True(worst <= 0.01 * scale, $"largest |Δ| {worst}, max |map| {scale}");
    }

    [Fact]
    public void WithCam_ViewsShowingDifferentParts_OnAnEvenPhoto_HasNoSeamWhereTheCropEnds()
    {
        // Every view of a one-colour photo has the same flat map; averaged over the views that show each cell, the
        // photo's map is that flat value everywhere, with no step where the crop views end.
        using var dir = TestEnvironment.NewTempDirectory();
        using var classifier = new CatsDogsTrainer(tiny.Options with { Views = SquashAndCrop }).Train(ImageDataset.FromFolder(tiny.PhotosDirectory));
        var path = classifier.ExportOnnx(dir.File("cam.onnx"), new OnnxExportOptions { WithCam = true }).Path;
        var photo = dir.File("even.png");
        File.WriteAllBytes(photo, TestImages.Encode(80, 48, (_, _) => new SKColor(200, 120, 40)));
        var (cam, side) = ExportedCam(path, photo, decodeSize: 37);
        Assert.Equal(32, side);
        var mean = cam.Average();
        Assert.True(Math.Abs(mean) > 1e-3, $"the map is flat at {mean}: too close to 0 to show a seam");
        Assert.All(cam, v => Assert.Equal(mean, v, new Tolerance(0, 1e-4)));
    }

    [Fact]
    public void MlNetApplyOnnxModel_LoadsTheFile_AndScoresTheSame()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var path = tiny.Classifier.ExportOnnx(dir.File("tiny.onnx")).Path;
        var photos = Directory.GetFiles(tiny.PhotosDirectory).Order(StringComparer.Ordinal).Take(6).ToArray();
        var ml = new MLContext(seed: 1);
        var rows = photos.Select(p => new PixelsRow { Image = ResizedRgb(p, TinyModel.Spec.Preprocessing) }).ToArray();
        var schema = SchemaDefinition.Create(typeof(PixelsRow));
        schema["image"].ColumnType = new VectorDataViewType(NumberDataViewType.Byte, 1, 32, 32, 3);
        var data = ml.Data.LoadFromEnumerable(rows, schema);
        var pipeline = ml.Transforms.ApplyOnnxModel(["dog_probability"], ["image"], path, new Dictionary<string, int[]> { ["image"] = [1, 32, 32, 3] }, gpuDeviceId: null, fallbackToCpu: false);
        var scored = pipeline.Fit(data).Transform(data).GetColumn<float[]>("dog_probability").Select(v => v[0]).ToArray();
        Assert.Equal(photos.Select(p => tiny.Classifier.Predict(p).DogProbability), scored, new Tolerance(1e-4));
    }

    [Fact]
    public void Export_OverTheBackboneFile_OrAfterItChanged_IsRefused_NamingTheFile()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var backbone = Path.Combine(tiny.ModelsDirectory, TinyModel.Spec.FileName);
        Assert.Contains("also an input", Assert.Throws<ArgumentException>(() => tiny.Classifier.ExportOnnx(backbone)).Message, StringComparison.Ordinal);

        using var copy = TestEnvironment.NewTempDirectory();
        Directory.CreateDirectory(copy.File("models"));
        File.Copy(backbone, copy.File("models/" + TinyModel.Spec.FileName));
        using var loaded = CatsDogsClassifier.Load(tiny.ModelPath, copy.File("models"), useCache: false);
        Backbones.SyntheticBackbone.Write(copy.File("models/" + TinyModel.Spec.FileName), TinyModel.Spec, dynamicBatch: false);
        var e = Assert.Throws<BackboneMismatchException>(() => loaded.ExportOnnx(dir.File("x.onnx")));
        Assert.Contains(copy.File("models/" + TinyModel.Spec.FileName), e.Message, StringComparison.Ordinal);
        Assert.Contains("changed since the model was loaded", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("x.onnx")));
    }

    [Fact]
    public void ResizedContract_ForViewsThatFrameThePhotoDifferently_IsRefused_SayingToUsePhoto()
    {
        using var crops = new CatsDogsTrainer(tiny.Options with { Views = ImageView.ParseList("native,crop0.8+mirror") }).Train(ImageDataset.FromFolder(tiny.PhotosDirectory));
        using var dir = TestEnvironment.NewTempDirectory();
        var e = Assert.Throws<ArgumentException>(() => crops.ExportOnnx(dir.File("x.onnx"), new OnnxExportOptions { Input = OnnxInputContract.Resized }));
        Assert.Contains("--input photo", e.Message, StringComparison.Ordinal);
        Assert.Equal(OnnxInputContract.Photo, crops.ExportOnnx(dir.File("auto.onnx")).Input);
    }

    // Every node input is produced by a node, an initializer or a graph input; every initializer is named once.
    internal static void AssertWellFormed(GraphProto graph)
    {
        var names = graph.Node.Select(n => n.Name).Where(n => n.Length > 0).ToArray();
        Assert.True(names.Length == names.Distinct(StringComparer.Ordinal).Count(), "two nodes share a name");
        var initializers = graph.Initializer.Select(t => t.Name).ToArray();
        Assert.Equal(initializers.Length, initializers.Distinct(StringComparer.Ordinal).Count());
        var available = initializers.Concat(graph.Input.Select(i => i.Name)).ToHashSet(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            Assert.All(node.Input.Where(i => i.Length > 0), i => Assert.True(available.Contains(i), $"node {node.Name} ({node.OpType}) reads '{i}', which nothing produces"));
            foreach (var o in node.Output)
            {
                Assert.True(available.Add(o), $"'{o}' is produced twice");
            }
        }

        Assert.All(graph.Output, o => Assert.Contains(o.Name, available));
    }

    // The library's own rendering of a photo's native view, as the uint8 RGB the contract asks for.
    internal static byte[] ResizedRgb(string photo, ImagePreprocessing input)
    {
        using var views = PhotoViews.Decode(File.ReadAllBytes(photo), photo, Math.Max(input.Width, input.Height), new RenderScratch());
        return RgbaPixels.ToRgb(views.Render(input, ImageView.Native));
    }

    // The photo as decoded for scoring (the decode size of a single-backbone model), as uint8 RGB.
    internal static (byte[] Rgb, int Width, int Height) DecodedRgb(string photo, int decodeSize = 32)
    {
        using var views = PhotoViews.Decode(File.ReadAllBytes(photo), photo, decodeSize, new RenderScratch());
        var rgba = new byte[views.Image.Width * views.Image.Height * 4];
        views.Image.RenderTo(rgba);
        return (RgbaPixels.ToRgb(rgba), views.Image.Width, views.Image.Height);
    }

    // The photo-contract export's cam for a photo as the library decodes it: the map and its grid side.
    private static (float[] Cam, int Side) ExportedCam(string path, string photo, int decodeSize)
    {
        var (rgb, w, h) = DecodedRgb(photo, decodeSize);
        using var session = new InferenceSession(path);
        using var value = OrtValue.CreateTensorValueFromMemory(rgb, [1, h, w, 3]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["image"], [value], ["cam"]);
        var shape = outputs[0].GetTensorTypeAndShape().Shape;
        Assert.Equal(shape[1], shape[2]);
        return (outputs[0].GetTensorDataAsSpan<float>().ToArray(), (int)shape[1]);
    }

    internal static (float[] P, long[] Label) Run(string path, byte[] pixels, long[] shape, GraphOptimizationLevel level)
    {
        using var session = new ExportedModel(path, level);
        return session.Run(pixels, shape);
    }

    /// <summary>One ONNX Runtime session on an exported file, for many runs (opening a fused export takes a second).</summary>
    internal sealed class ExportedModel(string path, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL) : IDisposable
    {
        private readonly InferenceSession _session = CreateSession(path, level);

        public (float[] P, long[] Label) Run(byte[] pixels, long[] shape)
        {
            using var value = OrtValue.CreateTensorValueFromMemory(pixels, shape);
            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, ["image"], [value], ["dog_probability", "label"]);
            return (outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[1].GetTensorDataAsSpan<long>().ToArray());
        }

        public void Dispose() => _session.Dispose();

        private static InferenceSession CreateSession(string path, GraphOptimizationLevel level)
        {
            using var options = new SessionOptions { GraphOptimizationLevel = level };
            return new InferenceSession(path, options);
        }
    }

    private sealed class PixelsRow
    {
        [ColumnName("image")]
        public byte[] Image { get; set; } = [];
    }
}
