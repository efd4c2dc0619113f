using CatsDogs.ML.Data;
using Xunit;

namespace CatsDogs.ML.Tests.Data;

[Trait("Category", Category.Unit)]
public class ImageDatasetTests
{
    [Theory]
    [InlineData("cat.123.jpg", PetLabel.Cat, 123L)]
    [InlineData("Dog.7.JPG", PetLabel.Dog, 7L)]
    [InlineData("dogs.8.png", PetLabel.Dog, 8L)]
    [InlineData("456.jpg", null, 456L)]
    [InlineData("cat.x.jpg", PetLabel.Cat, null)]
    [InlineData("holiday.jpg", null, null)]
    [InlineData("cow.3.jpg", null, null)]
    public void FromPath_ReadsLabelAndIdFromKaggleNames(string name, PetLabel? label, long? id)
    {
        var entry = ImageEntry.FromPath(Path.Combine("/data", name));
        Assert.Equal(label, entry.Label);
        Assert.Equal(id, entry.Id);
    }

    [Fact]
    public void FromFolder_KaggleTestNames_AreInNumericOrder()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        foreach (var id in new[] { 10, 2, 100, 1, 11 })
        {
            File.WriteAllBytes(dir.File($"{id}.jpg"), []);
        }

        var data = ImageDataset.FromFolder(dir.Path);

        Assert.Equal([1L, 2L, 10L, 11L, 100L], data.Select(e => e.Id!.Value));
        Assert.All(data, e => Assert.Null(e.Label));
    }

    [Fact]
    public void FromFolder_ClassFolders_AnyCaseAndPlural_Recursively()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        Directory.CreateDirectory(dir.File("PetImages/Cats/inner"));
        Directory.CreateDirectory(dir.File("PetImages/DOG"));
        Directory.CreateDirectory(dir.File("PetImages/.hidden"));
        Directory.CreateDirectory(dir.File("fake.jpg")); // a folder named like an image
        File.WriteAllBytes(dir.File("PetImages/Cats/inner/1.JPEG"), []);
        File.WriteAllBytes(dir.File("PetImages/Cats/2.webp"), []);
        File.WriteAllBytes(dir.File("PetImages/DOG/3.Png"), []);
        File.WriteAllBytes(dir.File("PetImages/DOG/notes.txt"), []);
        File.WriteAllBytes(dir.File("PetImages/.hidden/4.jpg"), []);
        File.WriteAllBytes(dir.File("PetImages/DOG/cat.5.gif"), []); // the Kaggle name wins over the folder

        var data = ImageDataset.FromFolder(dir.Path);

        Assert.Equal(4, data.Count);
        Assert.Equal(PetLabel.Cat, data.Single(e => e.Path.EndsWith("1.JPEG", StringComparison.Ordinal)).Label);
        Assert.Equal(PetLabel.Cat, data.Single(e => e.Path.EndsWith("2.webp", StringComparison.Ordinal)).Label);
        Assert.Equal(PetLabel.Dog, data.Single(e => e.Path.EndsWith("3.Png", StringComparison.Ordinal)).Label);
        Assert.Equal(PetLabel.Cat, data.Single(e => e.Path.EndsWith("cat.5.gif", StringComparison.Ordinal)).Label);
    }

    [Fact]
    public void FromFolder_Missing_NamesThePath()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-folder-" + Guid.NewGuid());
        var e = Assert.Throws<DirectoryNotFoundException>(() => ImageDataset.FromFolder(missing));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Split_IsStratifiedSeededAndDisjoint()
    {
        var data = new ImageDataset(Enumerable.Range(0, 1000).Select(i => new ImageEntry($"/x/{(i < 300 ? "cat" : "dog")}.{i}.jpg", i < 300 ? PetLabel.Cat : PetLabel.Dog, i)));

        var (train, validation) = data.Split(0.2, seed: 7);
        var (train2, validation2) = data.Split(0.2, seed: 7);
        var (_, validation3) = data.Split(0.2, seed: 8);

        Assert.Equal(60, validation.CountOf(PetLabel.Cat));
        Assert.Equal(140, validation.CountOf(PetLabel.Dog));
        Assert.Equal(800, train.Count);
        Assert.Empty(train.Select(e => e.Path).Intersect(validation.Select(e => e.Path)));
        Assert.Equal(validation.Select(e => e.Path), validation2.Select(e => e.Path));
        Assert.Equal(train.Select(e => e.Path), train2.Select(e => e.Path));
        Assert.NotEqual(validation.Select(e => e.Path), validation3.Select(e => e.Path));
    }

    [Fact]
    public void Split_UnlabelledPhoto_Throws()
    {
        var data = ImageDataset.FromFiles(["/x/cat.1.jpg", "/x/2.jpg"]);
        var e = Assert.Throws<InvalidOperationException>(() => data.Split(0.5, 1));
        Assert.Contains("2.jpg", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NaturalPathComparer_OrdersNumbersByValue()
    {
        string[] names = ["dog.10.jpg", "cat.9.jpg", "cat.10.jpg", "cat.009.jpg", "cat.1.jpg"];
        Assert.Equal(["cat.1.jpg", "cat.009.jpg", "cat.9.jpg", "cat.10.jpg", "dog.10.jpg"], names.Order(NaturalPathComparer.Instance));
    }
}
