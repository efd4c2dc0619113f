using CatsDogs.ML.Explain;
using CatsDogs.ML.Imaging;
using Xunit;

namespace CatsDogs.ML.Tests.Explain;

/// <summary>Putting a view's class activation map back into the photo's pixels.</summary>
[Trait("Category", Category.Unit)]
public class CamUpsamplingTests
{
    // A 2 × 2 grid, hot in its top-right cell.
    private static readonly CamGrid TopRight = new(2, 2, [0f, 1f, 0f, 0f]);

    [Fact]
    public void SquashedView_PutsTheHotCellInTheSameCornerOfThePhoto_AtFullWeightAtItsCentre()
    {
        // A 100 × 60 photo squashed into a 10 × 10 view.
        var map = new float[100 * 60];
        CamUpsampling.AddUpsampled(TopRight, new ViewPlacement(0.1f, 10f / 60, 0, 0), 10, 10, 1f, map, 100, 60);
        var peak = Array.IndexOf(map, map.Max());
        Assert.InRange(peak % 100, 50, 99);
        Assert.InRange(peak / 100, 0, 29);
        Assert.InRange(map[(15 * 100) + 75], 0.97f, 1f); // about the centre of the top-right cell's area
        Assert.InRange(map[(45 * 100) + 25], 0f, 0.03f); // about the centre of the bottom-left one
        Assert.All(map, v => Assert.InRange(v, 0f, 1f)); // bilinear: never beyond the grid's range
    }

    [Fact]
    public void CropView_LeavesThePartsItCutAwayAtZero()
    {
        // A 200 × 100 photo; a centre crop of its 100-pixel short side into a 10 × 10 view: x in 50…150 is seen.
        var photo = new float[200 * 100];
        var placement = new ViewPlacement(0.1f, 0.1f, -5f, 0f);
        CamUpsampling.AddUpsampled(new CamGrid(1, 1, [2f]), placement, 10, 10, 0.5f, photo, 200, 100);
        Assert.Equal(0f, photo[(50 * 200) + 10]);
        Assert.Equal(0f, photo[(50 * 200) + 190]);
        Assert.Equal(1f, photo[(50 * 200) + 100]); // weight × value
    }

    [Fact]
    public void AWholeViewAndACrop_AveragedByCoverage_LeaveNoSeamWhereTheCropEnds()
    {
        // A 200 × 100 photo: a squash (all of it) and a centre crop (x in 50…150), both seeing the same value 2.
        var map = new float[200 * 100];
        var coverage = new float[200 * 100];
        CamUpsampling.AddUpsampled(new CamGrid(1, 1, [2f]), new ViewPlacement(0.05f, 0.1f, 0f, 0f), 10, 10, 0.5f, map, 200, 100, coverage);
        CamUpsampling.AddUpsampled(new CamGrid(1, 1, [2f]), new ViewPlacement(0.1f, 0.1f, -5f, 0f), 10, 10, 0.5f, map, 200, 100, coverage);
        Assert.Equal(1f, map[(50 * 200) + 10]); // without coverage: half the value outside the crop …
        Assert.Equal(2f, map[(50 * 200) + 100]); // … the whole inside it: a seam at x = 50 and 150
        CamUpsampling.DivideByCoverage(map, coverage);
        Assert.All(map, v => Assert.Equal(2f, v));
    }

    [Fact]
    public void DivideByCoverage_LeavesPixelsNoViewShowedAtZero()
    {
        var map = new float[200 * 100];
        var coverage = new float[200 * 100];
        CamUpsampling.AddUpsampled(new CamGrid(1, 1, [2f]), new ViewPlacement(0.1f, 0.1f, -5f, 0f), 10, 10, 0.5f, map, 200, 100, coverage);
        CamUpsampling.DivideByCoverage(map, coverage);
        Assert.Equal(0f, map[(50 * 200) + 10]);
        Assert.Equal(2f, map[(50 * 200) + 100]);
    }

    [Fact]
    public void Flipped_MirrorsTheGrid()
    {
        Assert.Equal([1f, 0f, 0f, 0f], TopRight.Flipped().Values);
        Assert.Equal(TopRight.Values, TopRight.Flipped().Flipped().Values);
    }
}
