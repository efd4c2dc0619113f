using CatsDogs.ML.Imaging;
using SkiaSharp;
using Xunit;

namespace CatsDogs.ML.Tests.Imaging;

[Trait("Category", Category.Unit)]
public class ImageViewTests
{
    [Theory]
    [InlineData("native", "native")]
    [InlineData(" Native+MIRROR ", "native+mirror")]
    [InlineData("squash", "squash")]
    [InlineData("crop0.875+mirror", "crop0.875+mirror")]
    [InlineData("crop", "crop1")]
    public void Parse_ReadsTheTextForm_AndToStringWritesIt(string text, string canonical)
    {
        var view = ImageView.Parse(text);
        Assert.Equal(canonical, view.ToString());
        Assert.Equal(view, ImageView.Parse(view.ToString()));
    }

    [Theory]
    [InlineData("crop0")]
    [InlineData("crop1.5")]
    [InlineData("zoom")]
    [InlineData("native+mirror+mirror")]
    public void Parse_RefusesWhatIsNotAView(string text) => Assert.Throws<ArgumentException>(() => ImageView.Parse(text));

    [Fact]
    public void ParseList_RefusesRepeatsAndEmptyLists()
    {
        Assert.Equal(ImageView.NativeAndMirror, ImageView.ParseList("native,native+mirror"));
        Assert.Equal(ImageView.Defaults, ImageView.ParseList("native,native+mirror"));
        Assert.Equal(4, ImageView.ParseList("squash,squash+mirror,crop0.875,crop0.875+mirror").Count);
        Assert.Equal(ImageView.Defaults, ImageView.ParseList(string.Join(',', ImageView.Defaults))); // what --views and saved models print parses back
        Assert.Throws<ArgumentException>(() => ImageView.ParseList("native,native"));
        Assert.Throws<ArgumentException>(() => ImageView.ParseList(" , "));
    }

    [Fact]
    public void Views_RenderTheirFraming_AndAMirroredViewIsTheFlipOfItsView()
    {
        // 60 × 30: left third red, middle green, right third blue.
        var png = TestImages.Encode(60, 30, (x, _) => x < 20 ? SKColors.Red : x < 40 ? SKColors.Lime : SKColors.Blue);
        var input = new ImagePreprocessing { Width = 30, Height = 30, Normalization = PixelNormalization.Raw };
        using var photo = PhotoViews.Decode(png, "bands.png", 30, new RenderScratch());
        var squash = photo.Render(input, new ImageView(ViewFraming.Squash)).ToArray();
        var crop = photo.Render(input, new ImageView(ViewFraming.CenterCrop, 1)).ToArray();
        var crop50 = photo.Render(input, new ImageView(ViewFraming.CenterCrop, 0.5)).ToArray();
        var mirrored = photo.Render(input, new ImageView(ViewFraming.Squash, Mirrored: true)).ToArray();
        (byte R, byte G, byte B) At(byte[] rgba, int x, int y) => (rgba[((y * 30) + x) * 4], rgba[(((y * 30) + x) * 4) + 1], rgba[(((y * 30) + x) * 4) + 2]);

        Assert.True(At(squash, 2, 15).R > 200 && At(squash, 27, 15).B > 200); // all three bands
        Assert.True(At(crop, 2, 15).R > 200 && At(crop, 27, 15).B > 200); // the middle 30 of 60: red 15–20, blue 40–45 at its edges
        Assert.True(At(crop50, 2, 15).G > 200 && At(crop50, 27, 15).G > 200); // half the short side: only green
        for (var y = 0; y < 30; y++)
        {
            for (var x = 0; x < 30; x++)
            {
                Assert.Equal(At(squash, x, y), At(mirrored, 29 - x, y));
            }
        }
    }

    [Fact]
    public void MinDecodeSize_CoversTheLargestInputDividedByTheSmallestCrop()
    {
        var input = new ImagePreprocessing { Width = 224, Height = 224, Normalization = PixelNormalization.Raw };
        Assert.Equal(224, PhotoViews.MinDecodeSize([input], ImageView.NativeAndMirror));
        Assert.Equal(256, PhotoViews.MinDecodeSize([input], ImageView.ParseList("squash,squash+mirror,crop0.875,crop0.875+mirror")));
        Assert.Equal(256, PhotoViews.MinDecodeSize([input], [ImageView.Native, new ImageView(ViewFraming.CenterCrop, 0.875)]));
        Assert.Equal(299, PhotoViews.MinDecodeSize([input, input with { Width = 299, Height = 299 }], [ImageView.Native]));
    }
}
