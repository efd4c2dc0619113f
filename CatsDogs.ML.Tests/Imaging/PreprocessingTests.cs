using CatsDogs.ML.Backbones;
using CatsDogs.ML.Imaging;
using Microsoft.ML.OnnxRuntime;
using SkiaSharp;
using Xunit;

namespace CatsDogs.ML.Tests.Imaging;

public class PreprocessingTests
{
    private static readonly BackboneSpec ResNet18 = KnownBackbones.ResNet18;

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void ResNet18Preprocessing_EqualsResNetPreprocessOnnx_OnRealPhotos()
    {
        var dataDir = TestEnvironment.DataDirectory;
        var graphPath = ModelFiles.Locate(ResNet18, "ResNetPreprocess.onnx", null);
        using var backbone = Backbone.Open(ResNet18, null);
        using var graph = new InferenceSession(graphPath);
        foreach (var name in new[] { "cat.1.jpg", "dog.10237.jpg", "dog.1043.jpg" })
        {
            using var image = ImageDecoder.Decode(File.ReadAllBytes(Path.Combine(dataDir, name)), name, 224);
            var rgba = new byte[224 * 224 * 4];
            image.RenderTo(224, 224, image.Place(224, 224, ViewFraming.CenterCrop, 1), rgba);

            // What ML.NET's ExtractPixels hands the graph: R, G, B planes of 0..255 values.
            var planes = new float[3 * 224 * 224];
            for (var p = 0; p < 224 * 224; p++)
            {
                for (var c = 0; c < 3; c++)
                {
                    planes[(c * 224 * 224) + p] = rgba[(4 * p) + c];
                }
            }

            var expected = new float[planes.Length];
            using (var x = OrtValue.CreateTensorValueFromMemory(planes, [1, 3, 224, 224]))
            using (var y = OrtValue.CreateTensorValueFromMemory(expected, [1, 3, 224, 224]))
            {
                graph.Run(null, ["OriginalInput"], [x], ["PreprocessedInput"], [y]);
            }

            var ours = new float[planes.Length];
            backbone.Writer.Write(rgba, ours);
            Assert.Equal(expected, ours); // bit for bit
        }
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void Decode_IntoOneReusedBuffer_RendersEveryPhotoAsItsOwnBitmapDoes()
    {
        var dataDir = TestEnvironment.DataDirectory;

        // Real photos of many sizes, then a rotated one and one too big for the buffer to keep (its own bitmap).
        var inputs = Directory.EnumerateFiles(dataDir, "*.jpg").Order(StringComparer.Ordinal).Take(200)
            .Select(path => (Name: Path.GetFileName(path), Bytes: File.ReadAllBytes(path)))
            .DistinctBy(p => p.Bytes.Length / 20_000).Take(12).ToList();
        inputs.Add(("rotated.jpg", TestImages.WithExifOrientation(inputs[0].Bytes, 6)));
        inputs.Add(("big.png", TestImages.Encode(2100, 2100, (x, y) => new SKColor((byte)x, (byte)y, (byte)(x ^ y)))));
        Assert.True(2100L * 2100 * 4 > PixelBuffer.MaxKeptBytes);

        var buffer = new PixelBuffer();
        foreach (var (name, bytes) in inputs.Concat(inputs.AsEnumerable().Reverse()))
        {
            byte[] Render(PixelBuffer? into)
            {
                using var image = ImageDecoder.Decode(bytes, name, 224, into);
                var rgba = new byte[224 * 224 * 4];
                image.RenderTo(224, 224, image.Place(224, 224, ViewFraming.CenterCrop, 1), rgba);
                return rgba;
            }

            Assert.True(Render(null).AsSpan().SequenceEqual(Render(buffer)), $"{name} differs when decoded into the reused buffer");
        }
    }

    [Fact]
    [Trait("Category", Category.Unit)]
    public void TensorWriter_GoldenValues_ForEachNormalization()
    {
        // A 2×1 image: pixel 0 = (255, 0, 51), pixel 1 = (0, 128, 255).
        byte[] rgba = [255, 0, 51, 255, 0, 128, 255, 255];
        var spec = new ImagePreprocessing { Width = 2, Height = 1, Normalization = PixelNormalization.Raw };
        float[] Write(ImagePreprocessing s)
        {
            var tensor = new float[6];
            new TensorWriter(s, null).Write(rgba, tensor);
            return tensor;
        }

        Assert.Equal([255f, 0, 0, 128, 51, 255], Write(spec));
        Assert.Equal([51f, 255, 0, 128, 255, 0], Write(spec with { ChannelOrder = ChannelOrder.Bgr }));
        Assert.Equal([255f, 0, 51, 0, 128, 255], Write(spec with { Layout = TensorLayout.Nhwc }));
        Assert.Equal([1f, -1, -1, 128 / 127.5f - 1, 51 / 127.5f - 1, 1], Write(spec with { Normalization = PixelNormalization.Tf }), new Tolerance(1e-6f));
        Assert.Equal([51 - 103.939f, 255 - 103.939f, 0 - 116.779f, 128 - 116.779f, 255 - 123.68f, 0 - 123.68f],
            Write(spec with { ChannelOrder = ChannelOrder.Bgr, Normalization = PixelNormalization.Caffe }));
        var torch = Write(spec with { Normalization = PixelNormalization.Torch });
        Assert.Equal((1 - 0.485f) / 0.229f, torch[0], 5);
        Assert.Equal((1 - 0.406f) / 0.225f, torch[5], 5); // blue of pixel 1 (255)
        Assert.Equal((0 - 0.456f) / 0.224f, torch[2], 5); // green of pixel 0 (0)
    }

    [Theory]
    [Trait("Category", Category.Unit)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void Decode_RespectsExifOrientation(ushort orientation)
    {
        // The upright picture we expect: 40 wide × 20 high, red left half, blue right half, top row strip green.
        SKColor Upright(int x, int y) => y < 4 ? SKColors.Lime : x < 20 ? SKColors.Red : SKColors.Blue;
        // Store it the way a camera with that orientation would: inverse-transform each upright pixel.
        var swap = orientation >= 5;
        int sw = swap ? 20 : 40, sh = swap ? 40 : 20;
        SKColor Stored(int x, int y)
        {
            var (ux, uy) = orientation switch
            {
                2 => (39 - x, y),
                3 => (39 - x, 19 - y),
                4 => (x, 19 - y),
                5 => (y, x),
                6 => (39 - y, x),
                7 => (39 - y, 19 - x),
                8 => (y, 19 - x),
                _ => (x, y),
            };
            return Upright(ux, uy);
        }

        var jpeg = TestImages.WithExifOrientation(TestImages.Encode(sw, sh, Stored, SKEncodedImageFormat.Jpeg, 100), orientation);
        using var image = ImageDecoder.Decode(jpeg, "oriented.jpg", int.MaxValue);
        Assert.Equal((40, 20), (image.Width, image.Height));

        var rgba = new byte[40 * 20 * 4];
        image.RenderTo(rgba);
        SKColor At(int x, int y) => new(rgba[4 * ((y * 40) + x)], rgba[(4 * ((y * 40) + x)) + 1], rgba[(4 * ((y * 40) + x)) + 2]);
        AssertNear(SKColors.Red, At(5, 12));
        AssertNear(SKColors.Blue, At(34, 12));
        AssertNear(SKColors.Lime, At(20, 1));
    }

    [Fact]
    [Trait("Category", Category.Unit)]
    public void Decode_SemiTransparentPng_IsCompositedOverWhite_NotDarkened()
    {
        var png = TestImages.Encode(8, 8, (_, _) => new SKColor(255, 0, 0, 128));
        using var image = ImageDecoder.Decode(png, "alpha.png", int.MaxValue);
        var rgba = new byte[8 * 8 * 4];
        image.RenderTo(rgba);

        // Over white: 255·a + 255·(1−a) = 255 for red; green and blue 255·(1−a) ≈ 127. Premultiplied darkening gives (128, 0, 0).
        AssertNear(new SKColor(255, 127, 127), new SKColor(rgba[0], rgba[1], rgba[2]), tolerance: 2);
        Assert.Equal(255, rgba[3]);
    }

    [Fact]
    [Trait("Category", Category.Unit)]
    public void Decode_Grayscale_GivesEqualChannels()
    {
        var gray = TestImages.Encode(16, 16, (x, _) => new SKColor((byte)(x * 16), (byte)(x * 16), (byte)(x * 16)), SKEncodedImageFormat.Jpeg);
        using var image = ImageDecoder.Decode(gray, "gray.jpg", int.MaxValue);
        var rgba = new byte[16 * 16 * 4];
        image.RenderTo(rgba);
        for (var p = 0; p < 256; p++)
        {
            Assert.InRange(Math.Abs(rgba[4 * p] - rgba[(4 * p) + 2]), 0, 2);
        }
    }

    [Theory]
    [Trait("Category", Category.Unit)]
    [InlineData("empty", "empty")]
    [InlineData("text", "not an image")]
    [InlineData("truncated", "truncated")]
    public void Decode_BadInput_NamesFileAndReason(string kind, string reason)
    {
        var jpeg = TestImages.Encode(64, 64, (x, y) => new SKColor((byte)(x * 4), (byte)(y * 4), 90), SKEncodedImageFormat.Jpeg);
        byte[] bytes = kind switch
        {
            "empty" => [],
            "text" => "hello, I am not a photo"u8.ToArray(),
            _ => jpeg[..(jpeg.Length / 2)],
        };

        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(bytes, "/photos/bad.jpg", int.MaxValue).Dispose());
        Assert.Contains("/photos/bad.jpg", e.Message, StringComparison.Ordinal);
        Assert.Contains(reason, e.Reason, StringComparison.Ordinal);
    }

    private static void AssertNear(SKColor expected, SKColor actual, int tolerance = 40)
    {
        Assert.True(
            Math.Abs(expected.Red - actual.Red) <= tolerance && Math.Abs(expected.Green - actual.Green) <= tolerance && Math.Abs(expected.Blue - actual.Blue) <= tolerance,
            $"expected ≈{expected}, got {actual}");
    }
}
