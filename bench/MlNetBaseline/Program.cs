using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

// The framework default a user would otherwise write: LoadImages → ResizeImages → ExtractPixels → DnnFeaturizeImage
// (ResNet18). Usage: MlNetBaseline <file listing photo paths> <repeat>; prints the median images/s.
var paths = File.ReadAllLines(args[0]).Where(l => l.Length > 0).ToArray();
var repeat = int.Parse(args[1], CultureInfo.InvariantCulture);
var ml = new MLContext(seed: 1);
var rows = paths.Select(p => new ImageRow { ImagePath = p }).ToArray();
var pipeline = ml.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageRow.ImagePath))
    .Append(ml.Transforms.ResizeImages("Image", 224, 224, inputColumnName: "Image"))
    .Append(ml.Transforms.ExtractPixels("Pixels", "Image"))
    .Append(ml.Transforms.DnnFeaturizeImage("Features", m => m.ModelSelector.ResNet18(ml, m.OutputColumn, m.InputColumn), "Pixels"));
var model = pipeline.Fit(ml.Data.LoadFromEnumerable(rows.Take(2)));
var seconds = new List<double>();
for (var r = 0; r < repeat; r++)
{
    var clock = Stopwatch.StartNew();
    var transformed = model.Transform(ml.Data.LoadFromEnumerable(rows));
    using var cursor = transformed.GetRowCursor(transformed.Schema.Where(c => c.Name == "Features"));
    var getter = cursor.GetGetter<VBuffer<float>>(transformed.Schema["Features"]);
    VBuffer<float> features = default;
    while (cursor.MoveNext())
    {
        getter(ref features);
    }

    seconds.Add(clock.Elapsed.TotalSeconds);
}

seconds.Sort();
Console.WriteLine((rows.Length / seconds[seconds.Count / 2]).ToString("F2", CultureInfo.InvariantCulture));

internal sealed class ImageRow
{
    public string ImagePath { get; set; } = "";
}
