using CatsDogs.ML.Data;
using CatsDogs.ML.RabbitMQ;
using Xunit;

namespace CatsDogs.ML.Tests.Broker;

/// <summary>
/// The worker's path check without a broker: links resolved as the system resolves them, loops refused, the folders
/// scatter records. The attacks themselves run on the real broker in <see cref="HostileBrokerTests"/>.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class PathPolicyTests
{
    private static readonly string Model = new('a', 64);

    [Fact]
    public void Resolve_AppliesDotDotAfterTheLink_AsTheSystemDoes()
    {
        using var work = TestEnvironment.NewTempDirectory();
        var deep = Directory.CreateDirectory(work.File("outside/deep")).FullName;
        File.WriteAllText(work.File("outside/f"), "x");
        var job = Directory.CreateDirectory(work.File("job")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(job, "link"), deep);

        // Lexically job/link/../f is job/f, inside the job; open(2) opens outside/f, and the worker reads what it checked.
        var path = job + "/link/../f";
        Assert.Equal(work.File("outside/f"), PathPolicy.Resolve(path));
        Assert.Null(new PathPolicy(null).Permit(Order(path, job)));
    }

    [Fact]
    public void Permit_ALinkLoop_IsRefusedLikeAnyOtherPath()
    {
        using var work = TestEnvironment.NewTempDirectory();
        var job = Directory.CreateDirectory(work.File("job")).FullName;
        File.CreateSymbolicLink(Path.Combine(job, "a.jpg"), Path.Combine(job, "b.jpg"));
        File.CreateSymbolicLink(Path.Combine(job, "b.jpg"), Path.Combine(job, "a.jpg"));
        File.WriteAllText(Path.Combine(job, "c.jpg"), "x");

        Assert.Null(new PathPolicy(null).Permit(Order(Path.Combine(job, "a.jpg"), job)));
        Assert.Equal(Path.Combine(job, "c.jpg"), new PathPolicy(null).Permit(Order(Path.Combine(job, "c.jpg"), job)));
    }

    [Fact]
    public void Allow_ReplacesTheFoldersAnOrderClaims()
    {
        using var work = TestEnvironment.NewTempDirectory();
        var photos = Directory.CreateDirectory(work.File("photos")).FullName;
        var other = Directory.CreateDirectory(work.File("other")).FullName;
        File.WriteAllText(Path.Combine(other, "x.jpg"), "x");
        File.WriteAllText(Path.Combine(photos, "y.jpg"), "y");
        var policy = new PathPolicy([photos]);

        Assert.Null(policy.Permit(Order(Path.Combine(other, "x.jpg"), other)));
        Assert.Equal(Path.Combine(photos, "y.jpg"), policy.Permit(Order(Path.Combine(photos, "y.jpg"), other)));
        Assert.Contains("does not exist", Assert.Throws<ArgumentException>(() => new PathPolicy([work.File("missing")])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Roots_AreTheFewestFoldersHoldingEveryPhoto_AtMostSixteen()
    {
        var few = BrokerJobs.Roots([new ImageEntry("/data/a/1.jpg"), new ImageEntry("/data/a/b/2.jpg"), new ImageEntry("/data/a b/3.jpg"), new ImageEntry("/data/c/4.jpg")]);
        Assert.Equal(["/data/a", "/data/a b", "/data/c"], few);

        var many = BrokerJobs.Roots(Enumerable.Range(0, 40).Select(i => new ImageEntry($"/data/set/{i:D2}/photo.jpg")).ToArray());
        Assert.Equal(["/data/set"], many);
    }

    [Fact]
    public void Quote_BoundsAndEscapesWhatAMessageSays()
    {
        Assert.Equal("'a\\u000ab'", Messages.Quote("a\nb"));
        var quoted = Messages.Quote(new string('j', 300));
        Assert.Equal($"'{new string('j', 80)}…' (300 characters)", quoted);
    }

    private static WorkOrder Order(string path, string root) => new("job", 0, path, false, JobKind.Score, Model) { Roots = [root] };
}
