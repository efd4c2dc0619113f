using CatsDogs.ML.Data;
using CatsDogs.ML.Evaluation;
using Xunit;

namespace CatsDogs.ML.Tests.Evaluation;

[Trait("Category", Category.Unit)]
public class KaggleSubmissionTests
{
    private static ImagePrediction P(long id, float p) => new(new ImageEntry($"/test/{id}.jpg", null, id), p);

    [Fact]
    public void Write_SortsByNumericIdAndClips()
    {
        var writer = new StringWriter();
        KaggleSubmission.Write(writer, new BatchPrediction([P(10, 0.5f), P(2, 1f), P(1, 0f), P(100, 0.25f)], []));
        Assert.Equal("id,label\n1,0.005\n2,0.995\n10,0.5\n100,0.25\n", writer.ToString());
    }

    [Fact]
    public void Write_CustomClip()
    {
        var writer = new StringWriter();
        KaggleSubmission.Write(writer, new BatchPrediction([P(1, 0f), P(2, 1f)], []), new SubmissionOptions { ClipMin = 0.02, ClipMax = 0.98 });
        Assert.Equal("id,label\n1,0.02\n2,0.98\n", writer.ToString());
    }

    [Fact]
    public void Write_SkippedPhotos_RefusedUnlessAllowed_AndNamed()
    {
        var skipped = new SkippedImage(new ImageEntry("/test/3.jpg", null, 3), "the file is truncated");
        var batch = new BatchPrediction([P(1, 0.7f)], [skipped]);

        var e = Assert.Throws<IncompleteSubmissionException>(() => KaggleSubmission.Write(new StringWriter(), batch));
        Assert.Contains("/test/3.jpg", e.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        Assert.Equal(skipped, Assert.Single(e.Missing));

        var writer = new StringWriter();
        KaggleSubmission.Write(writer, batch, new SubmissionOptions { AllowMissing = true });
        Assert.Equal("id,label\n1,0.7\n", writer.ToString());
    }

    [Fact]
    public void Write_PhotoWithoutId_Refused()
    {
        var batch = new BatchPrediction([new ImagePrediction(new ImageEntry("/test/holiday.jpg"), 0.5f)], []);
        var e = Assert.Throws<IncompleteSubmissionException>(() => KaggleSubmission.Write(new StringWriter(), batch));
        Assert.Contains("holiday.jpg", e.Message, StringComparison.Ordinal);
    }
}
