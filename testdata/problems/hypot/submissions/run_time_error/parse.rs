fn main() {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    // Parses the legs as integers: panics on "3.0".
    let v: Vec<u64> = line.split_whitespace().map(|x| x.parse().unwrap()).collect();
    println!("{}", ((v[0] * v[0] + v[1] * v[1]) as f64).sqrt());
}
